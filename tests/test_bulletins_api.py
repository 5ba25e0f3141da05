"""`/api/v1/vin/<vin>` and `/api/v1/bulletins` over HTTP: which bulletins apply, in which
order and language, the rendered body, and the errors."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser

import flask_babel
import pytest

from service_portal.bulletins.models import (
    Bulletin,
    BulletinCountry,
    BulletinModel,
    BulletinText,
)

BYD_VIN = "LGXCE4CB7R0000001"  # BYD, model year 2024 (R), no model pattern known
POLESTAR_2_VIN = "LPSED3KA0NL000001"  # Polestar 2, model year 2022 (N)


def add_bulletin(session, code, brand, *, models=(), countries=(), year_from=None,
                 year_to=None, kind="tsb", severity="medium", published=date(2024, 1, 1),
                 texts=None):
    """Insert one bulletin with its links and texts (`texts`: locale -> title, or
    (title, body); the body is the title when not given)."""
    bulletin = Bulletin(code=code, kind=kind, brand_id=brand.id, year_from=year_from,
                        year_to=year_to, severity=severity, published=published)
    session.add(bulletin)
    session.flush()
    session.add_all(BulletinModel(bulletin_id=bulletin.id, model_id=m.id) for m in models)
    session.add_all(BulletinCountry(bulletin_id=bulletin.id, country=c) for c in countries)
    for locale, value in (texts or {"en": f"{code} title"}).items():
        title, body = value if isinstance(value, tuple) else (value, value)
        session.add(BulletinText(bulletin_id=bulletin.id, locale=locale, title=title,
                                 summary=f"{code} summary ({locale})", body=body))
    session.commit()
    return bulletin


@pytest.fixture
def fleet(make, session):
    """BYD with three models and bulletins of every scope, an MG bulletin, and Polestar."""
    byd, mg, polestar = make.brand("byd"), make.brand("mg"), make.brand("polestar")
    seal = make.model(byd, "byd-seal", year_from=2023)
    dolphin = make.model(byd, "byd-dolphin", year_from=2023)
    make.model(byd, "byd-atto-3", year_from=2022)
    make.model(mg, "mg-mg4", year_from=2022)
    ps2 = make.model(polestar, "polestar-2", year_from=2020)
    ps3 = make.model(polestar, "polestar-3", year_from=2024)
    add_bulletin(session, "BYD-ALL", byd, kind="software", published=date(2024, 1, 10),
                 texts={"en": "Update for every BYD", "de": "Update für jeden BYD"})
    add_bulletin(session, "BYD-ALL-B", byd, published=date(2024, 1, 10))
    add_bulletin(session, "BYD-SEAL", byd, models=[seal], year_from=2023, year_to=2024,
                 kind="recall", severity="high", published=date(2024, 5, 1),
                 texts={"en": "Seal brake hose", "fr": "Flexible de frein de la Seal",
                        "pt_BR": "Mangueira de freio do Seal"})
    add_bulletin(session, "BYD-DOLPHIN-TH", byd, models=[dolphin], countries=["TH", "MY"],
                 published=date(2024, 3, 1), texts={"en": "Dolphin AC", "th": "แอร์ Dolphin"})
    add_bulletin(session, "BYD-OLD", byd, year_to=2022, published=date(2023, 1, 1))
    add_bulletin(session, "BYD-NEW", byd, year_from=2025, kind="recall",
                 published=date(2025, 2, 1))
    add_bulletin(session, "MG-ALL", mg, published=date(2025, 6, 1))
    add_bulletin(session, "PS-2", polestar, models=[ps2], published=date(2024, 2, 1))
    add_bulletin(session, "PS-3", polestar, models=[ps3], published=date(2024, 2, 2))
    return {"seal": seal, "dolphin": dolphin}


def codes(client, **params):
    response = client.get("/api/v1/bulletins", query_string=params)
    assert response.status_code == 200, response.json
    return [b["code"] for b in response.json["results"]]


def test_brand_lists_its_bulletins_newest_first_ties_by_code(client, fleet):
    assert codes(client, brand="byd") == ["BYD-NEW", "BYD-SEAL", "BYD-DOLPHIN-TH", "BYD-ALL",
                                          "BYD-ALL-B", "BYD-OLD"]


def test_result_carries_every_contract_field(client, fleet):
    results = client.get("/api/v1/bulletins?model=byd-dolphin").json["results"]
    assert [r for r in results if r["code"] == "BYD-DOLPHIN-TH"] == [{
        "code": "BYD-DOLPHIN-TH", "kind": "tsb", "brand": "byd", "models": ["byd-dolphin"],
        "year_from": None, "year_to": None, "countries": ["MY", "TH"], "severity": "medium",
        "published": "2024-03-01", "title": "Dolphin AC",
        "summary": "BYD-DOLPHIN-TH summary (en)", "lang": "en", "fallback": False}]


def test_model_year_and_country_select_what_applies(client, fleet):
    assert codes(client, model="byd-seal", year=2024, country="DE") == [
        "BYD-SEAL", "BYD-ALL", "BYD-ALL-B"]


def test_model_specific_bulletin_skips_other_models(client, fleet):
    assert "BYD-SEAL" not in codes(client, model="byd-dolphin")
    assert "BYD-DOLPHIN-TH" not in codes(client, model="byd-seal")
    assert codes(client, model="byd-atto-3") == ["BYD-NEW", "BYD-ALL", "BYD-ALL-B", "BYD-OLD"]


def test_year_bounds_are_inclusive_and_open_ended_when_null(client, fleet):
    assert "BYD-SEAL" not in codes(client, model="byd-seal", year=2022)
    assert "BYD-SEAL" in codes(client, model="byd-seal", year=2023)
    assert "BYD-SEAL" not in codes(client, model="byd-seal", year=2025)
    assert codes(client, brand="byd", year=1995) == [
        "BYD-DOLPHIN-TH", "BYD-ALL", "BYD-ALL-B", "BYD-OLD"]
    assert codes(client, brand="byd", year=2030) == [
        "BYD-NEW", "BYD-DOLPHIN-TH", "BYD-ALL", "BYD-ALL-B"]


def test_country_bounded_bulletin_applies_only_in_its_markets(client, fleet):
    assert "BYD-DOLPHIN-TH" not in codes(client, model="byd-dolphin", country="DE")
    assert "BYD-DOLPHIN-TH" in codes(client, model="byd-dolphin", country="th")
    assert "BYD-ALL" in codes(client, model="byd-dolphin", country="DE")


def test_kind_filter(client, fleet):
    assert codes(client, brand="byd", kind="recall") == ["BYD-NEW", "BYD-SEAL"]
    assert codes(client, brand="byd", kind="software") == ["BYD-ALL"]


def test_other_brands_bulletins_never_apply(client, fleet):
    assert "MG-ALL" not in codes(client, brand="byd")
    assert codes(client, model="mg-mg4") == ["MG-ALL"]


def texts(client, query, **headers):
    # The `session` fixture keeps an app context open across requests, and Flask-Babel
    # caches the locale on `g`: forget it so that each request chooses its own.
    flask_babel.refresh()
    response = client.get(f"/api/v1/bulletins?{query}", headers=headers)
    return {b["code"]: (b["title"], b["lang"], b["fallback"]) for b in response.json["results"]}


def test_text_in_the_requested_language_else_english_flagged(client, fleet):
    found = texts(client, "brand=byd&lang=de")
    assert found["BYD-ALL"] == ("Update für jeden BYD", "de", False)
    assert found["BYD-SEAL"] == ("Seal brake hose", "en", True)


def test_language_from_accept_language(client, fleet):
    found = texts(client, "model=byd-seal", **{"Accept-Language": "fr-CH, de;q=0.5"})
    assert found["BYD-SEAL"] == ("Flexible de frein de la Seal", "fr", False)
    assert found["BYD-ALL"] == ("Update for every BYD", "en", True)


def test_language_maps_onto_catalog_locales(client, fleet):
    assert texts(client, "model=byd-seal&lang=pt")["BYD-SEAL"] == (
        "Mangueira de freio do Seal", "pt_BR", False)
    assert texts(client, "model=byd-dolphin&lang=th-TH")["BYD-DOLPHIN-TH"] == (
        "แอร์ Dolphin", "th", False)
    # British readers get the English text, which is their language: no fallback.
    assert texts(client, "model=byd-seal&lang=en-GB")["BYD-SEAL"] == (
        "Seal brake hose", "en", False)


def test_vin_implies_brand_and_model_year(client, fleet):
    # 2024 (R): the Seal campaign (2023-2024) applies, the old and new ones do not.
    assert codes(client, vin=BYD_VIN) == ["BYD-SEAL", "BYD-DOLPHIN-TH", "BYD-ALL",
                                          "BYD-ALL-B"]
    assert codes(client, vin=BYD_VIN.lower(), model="byd-dolphin", country="DE") == [
        "BYD-ALL", "BYD-ALL-B"]


def test_vin_implies_the_model_where_known(client, fleet):
    assert codes(client, vin=POLESTAR_2_VIN) == ["PS-2"]


@pytest.mark.parametrize("params, field", [
    ({"vin": BYD_VIN, "brand": "mg"}, "brand"),
    ({"vin": BYD_VIN, "year": "2023"}, "year"),
    ({"vin": POLESTAR_2_VIN, "model": "polestar-3"}, "model"),
])
def test_vin_contradicted_by_another_parameter_answers_422(client, fleet, params, field):
    response = client.get("/api/v1/bulletins", query_string=params)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "vin_mismatch"
    assert response.json["error"]["field"] == field


def test_vin_of_an_unknown_maker_needs_a_brand(client, fleet):
    response = client.get("/api/v1/bulletins", query_string={"vin": "WVWZZZ3CZEE140287"})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "unknown_brand"
    assert response.json["error"]["field"] == "vin"
    assert "BYD-ALL" in codes(client, vin="WVWZZZ3CZEE140287", brand="byd")


@pytest.mark.parametrize("params, field", [
    ({}, "brand"), ({"lang": "de"}, "brand"),
    ({"brand": "byd", "year": "1989"}, "year"), ({"brand": "byd", "year": "2101"}, "year"),
    ({"brand": "byd", "year": "abc"}, "year"), ({"brand": "byd", "year": "٢٠٢٤"}, "year"),
    ({"brand": "byd", "year": "-2024"}, "year"),
    ({"brand": "byd", "country": "XX"}, "country"),
    ({"brand": "byd", "country": "DEU"}, "country"),
    ({"brand": "byd", "kind": "campaign"}, "kind"),
    ({"brand": "BYD!"}, "brand"), ({"model": "a\x00b"}, "model"), ({"brand": ""}, "brand"),
    ({"brand": "byd", "colour": "red"}, "colour"),
])
def test_bad_parameters_answer_400_naming_the_field(client, fleet, params, field):
    response = client.get("/api/v1/bulletins", query_string=params)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert response.json["error"]["message"]


def test_repeated_parameter_is_refused(client, fleet):
    response = client.get("/api/v1/bulletins?brand=byd&brand=mg")
    assert response.status_code == 400 and response.json["error"]["field"] == "brand"


@pytest.mark.parametrize("params, code", [
    ({"brand": "tesla"}, "unknown_brand"), ({"model": "byd-nope"}, "unknown_model"),
    ({"brand": "byd", "model": "mg-mg4"}, "model_brand_mismatch"),
    ({"vin": "LGXCE4CB7R000000"}, "invalid_vin"), ({"vin": "LGXCE4CB7R000000I"}, "invalid_vin"),
])
def test_unknown_or_invalid_names_answer_422(client, fleet, params, code):
    response = client.get("/api/v1/bulletins", query_string=params)
    assert response.status_code == 422 and response.json["error"]["code"] == code


def test_vin_route_decodes(client, fleet):
    body = client.get(f"/api/v1/vin/{POLESTAR_2_VIN.lower()}").json
    assert body == {"vin": POLESTAR_2_VIN, "valid": True, "checksum_ok": True, "wmi": "LPS",
                    "brand": "polestar", "brands": ["polestar"],
                    "model_year": 2022, "model": "polestar-2"}


def test_vin_route_reports_a_wrong_check_digit(client, fleet):
    body = client.get("/api/v1/vin/LGXCE4CB0R0000001").json
    assert body["valid"] is True and body["checksum_ok"] is False and body["brand"] == "byd"


@pytest.mark.parametrize("text", ["LGXCE4CB7R000000", "LGXCE4CB7R00000001", "LGXCE4CB7O0000001",
                                  "%20"])
def test_vin_route_refuses_what_is_no_vin(client, text):
    response = client.get(f"/api/v1/vin/{text}")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_vin"
    assert response.json["error"]["field"] == "vin"


def test_vin_route_refuses_unknown_parameters(client):
    assert client.get(f"/api/v1/vin/{BYD_VIN}?brand=byd").status_code == 400


def test_bulletin_detail_with_body_in_the_language(client, fleet):
    body = client.get("/api/v1/bulletins/BYD-SEAL?lang=fr").json
    assert body["code"] == "BYD-SEAL" and body["lang"] == "fr" and body["fallback"] is False
    assert body["title"] == "Flexible de frein de la Seal"
    assert body["body"] == "Flexible de frein de la Seal"
    assert body["body_html"] == "<p>Flexible de frein de la Seal</p>\n"


def test_bulletin_detail_falls_back_to_english(client, fleet):
    body = client.get("/api/v1/bulletins/byd-seal?lang=th").json
    assert (body["code"], body["lang"], body["fallback"]) == ("BYD-SEAL", "en", True)
    assert body["body"] == "Seal brake hose"


def test_unknown_bulletin_is_404(client, fleet):
    response = client.get("/api/v1/bulletins/NOPE-1")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get("/api/v1/bulletins/BYD-SEAL?x=1").status_code == 400


HOSTILE = """### What to do

<script>alert('x')</script>

**Bold** and *soft* with `code`, a [manual](https://example.com/manual) and
[bad](javascript:alert(1)), [data](data:text/html;base64,PHNjcmlwdD4=), [local](/admin)
and <a href="javascript:alert(2)" onclick="alert(3)">raw</a> <img src=x onerror=alert(4)>

- one
- two

<iframe src="https://evil.example"></iframe>

# Big heading
"""


class _Markup(HTMLParser):
    """Every tag and attribute of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_body_html_is_sanitised(client, session, make):
    brand = make.brand("byd")
    add_bulletin(session, "BYD-XSS", brand, texts={"en": ("Hostile", HOSTILE)})
    html = client.get("/api/v1/bulletins/BYD-XSS").json["body_html"]
    markup = _Markup()
    markup.feed(html)
    allowed = {"p", "ul", "ol", "li", "strong", "em", "code", "pre", "h3", "h4", "a"}
    assert {tag for tag, _ in markup.tags} <= allowed
    for tag, attrs in markup.tags:
        assert set(attrs) <= ({"href", "rel"} if tag == "a" else set()), (tag, attrs)
        if "href" in attrs:
            assert attrs["href"].startswith("https://") and attrs["rel"] == "noopener nofollow"
    # What was hostile survives only as inert, escaped text.
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<h3>What to do</h3>" in html
    assert "<strong>Bold</strong>" in html and "<em>soft</em>" in html
    assert "<code>code</code>" in html and "<li>one</li>" in html
    assert '<a href="https://example.com/manual" rel="noopener nofollow">manual</a>' in html
    assert "Big heading" in html and "<h1" not in html
