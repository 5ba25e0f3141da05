"""The owner forms over HTTP: one round of validation, errors at their fields and in a
linked summary, the "sent" page surviving a reload, the status page prefilled from it,
and the search page's defaults, place errors and language switch."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from service_portal.cases.models import Case
from tests.helpers import csrf_token


@pytest.fixture
def catalog(make):
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    make.service("hv-battery")


def help_form(client, **changes) -> dict:
    token = csrf_token(client.get("/help").data)
    data = {"csrf_token": token, "name": "Ola Example", "email": "ola@mail.example",
            "phone": "+47 412 34 567", "model": "byd-atto-3", "country": "NO",
            "service": "hv-battery", "description": "The car will not charge above 80 percent.",
            "consent": "y"}
    return {k: v for k, v in (data | changes).items() if v is not None}


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def field_errors(body: str) -> dict[str, str]:
    """The error shown at each field: {field id: message}."""
    return {fid: text_of(inner).removeprefix("Error: ") for _, fid, inner in re.findall(
        r'<(p|div) class="error-message" id="([\w-]+)-error">(.*?)</\1>', body, re.S)}


def summary_links(body: str) -> dict[str, str]:
    """The error summary's links: {target id: message}."""
    box = re.search(r'<div class="error-summary"(.*?)</div>', body, re.S)
    assert box, "no error summary"
    return {target: text_of(inner) for target, inner in
            re.findall(r'<a href="#([\w-]+)">(.*?)</a>', box.group(1), re.S)}


def test_missing_and_malformed_fields_are_refused_in_one_round(client, catalog, session):
    data = help_form(client, name="", email="not-an-email", phone="12", vin="NOT-A-VIN",
                     description=None, consent=None)
    response = client.post("/help", data=data)
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert errors["name"] == "Enter your name."
    assert errors["email"] == "Not a valid email address: not-an-email"
    assert errors["phone"].startswith("Not a valid phone number")
    assert errors["vin"] == "Not a VIN: 17 letters and digits, without I, O and Q."
    assert errors["description"] == "Describe the problem."
    assert errors["consent"] == "Please agree, so that we can handle your request."
    session.rollback()
    assert session.scalar(select(Case.id)) is None


def test_a_request_without_a_car_says_which_is_missing_with_the_other_errors(client, catalog):
    response = client.post("/help", data=help_form(client, model="", email="x@"))
    errors = field_errors(response.text)
    assert errors["vin"] == "Say which car: a VIN or a model."
    assert errors["email"].startswith("Not a valid email address")


def test_every_error_is_in_a_summary_that_links_to_its_field(client, catalog):
    response = client.post("/help", data=help_form(client, name="", email="bad"))
    body = response.text
    links = summary_links(body)
    assert links == {"name": "Enter your name.", "email": "Not a valid email address: bad"}
    for target in links:
        assert f'id="{target}"' in body  # the link lands on the field itself
    assert re.search(r'<div class="error-summary"[^>]*autofocus', body)
    assert re.search(r'<input[^>]*aria-describedby="email-hint email-error"', body)
    assert "<title>Error: " in body


def test_a_valid_request_shows_no_error_summary(client, catalog):
    body = client.get("/help").text
    assert 'class="error-summary"' not in body and 'class="button-primary"' in body


def test_the_sent_page_survives_a_reload_and_keeps_the_email_out_of_the_address(
        client, catalog, session):
    response = client.post("/help", data=help_form(client))
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "ola" not in location and "mail.example" not in location
    session.rollback()
    reference = session.scalar(select(Case.reference))
    assert parse_qs(urlsplit(location).query) == {"reference": [reference]}
    for _ in range(2):  # shown, then reloaded
        sent = client.get(location)
        assert sent.status_code == 200 and reference in sent.text


def test_the_sent_page_links_to_a_status_page_prefilled_with_the_reference(
        client, catalog, session):
    sent = client.post("/help", data=help_form(client), follow_redirects=True)
    session.rollback()
    reference = session.scalar(select(Case.reference))
    [link] = re.findall(r'<a class="button-primary" href="([^"]+)"', sent.text)
    status = client.get(html.unescape(link))
    assert status.status_code == 200
    assert re.search(rf'<input[^>]*id="reference"[^>]*value="{reference}"', status.text)
    assert re.search(r'<input[^>]*autofocus[^>]*id="email"|<input[^>]*id="email"[^>]*autofocus',
                     status.text)


def test_a_sent_page_without_a_real_reference_goes_back_to_the_form(client):
    for query in ("", "?reference=%3Cscript%3E", "?reference=SP-2026-IIII"):
        response = client.get(f"/help/sent{query}")
        assert response.status_code == 302 and response.headers["Location"].endswith("/help")


def test_the_status_form_checks_both_fields_in_one_round(client, catalog):
    token = csrf_token(client.get("/cases/status").data)
    response = client.post("/cases/status", data={"csrf_token": token, "reference": "",
                                                  "email": "nope"})
    assert field_errors(response.text) == {"reference": "Enter the case reference.",
                                           "email": "Not a valid email address: nope"}
    assert set(summary_links(response.text)) == {"reference", "email"}


def test_the_status_page_finds_the_case_sent(client, catalog, session):
    client.post("/help", data=help_form(client))
    session.rollback()
    reference = session.scalar(select(Case.reference))
    token = csrf_token(client.get(f"/cases/status?reference={reference}").data)
    response = client.post("/cases/status", data={"csrf_token": token, "reference": reference,
                                                  "email": "ola@mail.example"})
    assert response.status_code == 200 and f"Case {reference}" in text_of(response.text)


# --- the search page ---------------------------------------------------------------------

@pytest.fixture
def frankfurt_shop(make):
    byd = make.brand("byd")
    return make.shop(make.org("main"), name="Main EV", brands=[(byd, "authorized")],
                     lat=50.11, lon=8.68)


def test_an_unknown_place_is_refused_at_the_place_field(client):
    response = client.get("/?near=Frnakfurt")
    assert response.status_code == 422
    errors = field_errors(response.text)
    assert errors["near"].startswith("We do not know the place “Frnakfurt”.")
    assert list(summary_links(response.text)) == ["near"]
    assert re.search(r'<input[^>]*id="near"[^>]*aria-invalid="true"[^>]*'
                     r'aria-describedby="near-error"', response.text, re.S)


def test_did_you_mean_offers_each_place_once_with_its_region_and_country(client):
    body = client.get("/?near=Frnakfurt").text
    box = re.search(r'<ul class="suggestions".*?</ul>', body, re.S).group(0)
    offered = [text_of(a) for a in re.findall(r"<a [^>]*>(.*?)</a>", box, re.S)]
    assert "Frankfurt am Main, Germany" in offered
    assert "Frankfort, Kentucky, United States" in offered
    assert len(offered) == len(set(offered))
    assert sum(label.startswith("Frankfort,") and "United States" in label
               for label in offered) == 1


def test_suggestions_are_named_in_the_readers_language(client):
    body = client.get("/?near=Frnakfurt&lang=de").text
    assert "Frankfort, Kentucky, Vereinigte Staaten" in text_of(body)


@pytest.mark.parametrize("query, opened", [
    ("", False), ("&sort=distance&radius_km=50", False), ("&sort=best", True),
    ("&open_now=true", True), ("&service=tyres", True)])
def test_more_filters_open_only_for_a_filter_the_owner_changed(client, frankfurt_shop, query,
                                                               opened):
    body = client.get(f"/?near=Frankfurt+am+Main{query}").text
    assert ("<details open>" in body) is opened


def test_the_form_marks_its_defaults_for_the_script_to_leave_out(client):
    body = client.get("/").text
    assert re.search(r'<select id="radius_km" name="radius_km" data-default="50">', body)
    assert re.search(r'<select id="sort" name="sort" data-default="distance">', body)


def test_the_language_switch_keeps_the_search(client, frankfurt_shop):
    body = client.get("/?near=Frankfurt+am+Main&brand=byd&service=a&service=b&lang=de").text
    switch = re.search(r'<form method="get" class="row language".*?</form>', body, re.S).group(0)
    kept = re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', switch)
    assert kept == [("near", "Frankfurt am Main"), ("brand", "byd"), ("service", "a"),
                    ("service", "b")]


@pytest.mark.parametrize("typed, lang, found", [
    ("الرياض", "ar", ["الرياض", "السعودية"]),
    ("Riyadh", "ar", ["الرياض", "السعودية"]),
    ("新加坡", "en", ["Singapore", "Singapore"]),
    ("frankfurt am main", "de", ["Frankfurt am Main", "Deutschland"])])
def test_the_place_is_shown_as_typed_with_what_it_was_found_as(client, typed, lang, found):
    body = client.get("/", query_string={"near": typed, "lang": lang}).text
    heading = text_of(re.search(r'<h2 id="results-heading">(.*?)</h2>', body, re.S).group(1))
    assert typed in heading and ", SA" not in heading and ", SG" not in heading
    shown = text_of(re.search(r'<p class="place-found muted">(.*?)</p>', body, re.S).group(1))
    place, country = found
    # The separator between the parts is the catalog's ("،" in Arabic).
    assert place in shown and shown.index(place) < shown.rindex(country)
