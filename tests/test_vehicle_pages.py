"""The owner's vehicle page and bulletin page: decoded VIN, the bulletins that apply (and
no others), the English fallback marked, recall shops nearest first, errors as pages."""

from __future__ import annotations

import re

import pytest

from service_portal.audit.actors import Actor
from service_portal.bulletins.schemas import BulletinIn
from service_portal.bulletins.services import upsert_bulletin

POLESTAR_2 = "LPSED3KA0NL000001"  # Polestar 2, model year 2022 (see test_vin.py)
FRANKFURT = "50.1109,8.6821"


def bulletin(session, code: str, *, kind: str = "recall", models=("polestar-2",),
             years=(None, None), countries=(), texts=None, brand: str = "polestar") -> None:
    texts = texts or {"en": {"title": f"Title {code}", "summary": f"Summary {code}",
                             "body": f"Body of {code}."}}
    upsert_bulletin(session, BulletinIn(
        code=code, kind=kind, brand=brand, models=list(models), year_from=years[0],
        year_to=years[1], countries=list(countries), severity="high", published="2025-05-01",
        texts=texts), actor=Actor.command_line("test"))
    session.commit()


@pytest.fixture
def world(make, session):
    polestar, mg = make.brand("polestar", name="Polestar"), make.brand("mg", name="MG")
    make.model(polestar, "polestar-2", name="Polestar 2", year_from=2020)
    make.model(polestar, "polestar-3", name="Polestar 3", year_from=2024)
    make.model(mg, "mg-mg4", name="MG4", year_from=2022)
    recall, other = make.service("recall-work"), make.service("maintenance")
    near = make.shop(name="Near Recall", brands=[(polestar, "authorized")], services=[recall],
                     lat=50.111, lon=8.683, phone="+49691234567")
    far = make.shop(name="Far Recall", brands=[(polestar, "authorized")], services=[recall],
                    lat=50.0, lon=8.27)
    make.shop(name="Partner Shop", brands=[(polestar, "partner")], services=[recall],
              lat=50.11, lon=8.68)
    make.shop(name="No Recall Work", brands=[(polestar, "authorized")], services=[other],
              lat=50.11, lon=8.68)
    make.shop(name="Other Brand", brands=[(mg, "authorized")], services=[recall],
              lat=50.11, lon=8.68)
    bulletin(session, "PS-R-1", years=(2021, 2023), texts={
        "en": {"title": "Brake hose recall", "summary": "Hose may chafe.", "body": "Replace."},
        "de": {"title": "Bremsschlauch-Rückruf", "summary": "Schlauch.", "body": "Tauschen."}})
    bulletin(session, "PS-T-1", kind="tsb", models=())
    bulletin(session, "PS-T-3", kind="tsb", models=("polestar-3",))
    bulletin(session, "PS-R-LATE", years=(2024, 2025))
    bulletin(session, "PS-R-NO", countries=("NO",))
    bulletin(session, "MG-R-1", brand="mg", models=("mg-mg4",))
    return {"near": near, "far": far}


def codes(html: str) -> list[str]:
    return re.findall(r'href="/bulletins/([A-Z0-9-]+)"', html)


def test_vin_page_shows_the_car_and_only_its_bulletins(client, world):
    response = client.get(f"/vehicle?vin={POLESTAR_2}&country=DE")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Polestar 2" in html and "2022" in html and POLESTAR_2 in html
    assert codes(html) == ["PS-R-1", "PS-T-1"]  # the recall first
    assert "check digit" not in html


def test_a_wrong_check_digit_is_only_a_note(client, world):
    wrong = POLESTAR_2[:8] + "1" + POLESTAR_2[9:]
    response = client.get(f"/vehicle?vin={wrong}")
    assert response.status_code == 200 and "check digit" in response.get_data(as_text=True)


def test_model_and_year_are_a_shareable_link_too(client, world):
    html = client.get("/vehicle?model=polestar-2&year=2024&country=NO").get_data(as_text=True)
    assert codes(html) == ["PS-R-LATE", "PS-R-NO", "PS-T-1"]
    assert 'value="polestar-2" selected' in html and 'value="NO" selected' in html


def test_fallback_to_english_is_marked_where_no_translation_exists(client, world):
    html = client.get(f"/vehicle?vin={POLESTAR_2}&country=DE&lang=de").get_data(as_text=True)
    assert "Bremsschlauch-Rückruf" in html
    assert re.search(r'<h3>\s*<a href="/bulletins/PS-R-1">', html)  # German: no marker
    assert re.search(r'<h3 lang="en" dir="ltr"><a href="/bulletins/PS-T-1">Title PS-T-1', html)
    assert html.count('class="fallback"') == 1


def test_shops_are_authorised_recall_shops_of_the_brand_nearest_first(client, world):
    html = client.get(f"/vehicle?vin={POLESTAR_2}&near={FRANKFURT}").get_data(as_text=True)
    shops = re.findall(r'<a href="/shops/(\d+)">([^<]+)</a>', html)
    assert shops == [(str(world["near"].id), "Near Recall"), (str(world["far"].id), "Far Recall")]
    assert 'href="tel:+49691234567"' in html
    assert "km" in html


def test_an_unknown_place_keeps_the_bulletins_and_says_so(client, world):
    response = client.get(f"/vehicle?vin={POLESTAR_2}&country=DE&near=Xyzzyville-upon-Nowhere")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Xyzzyville" in html
    assert codes(html) == ["PS-R-1", "PS-T-1"]


@pytest.mark.parametrize("query", ["vin=NOT-A-VIN", "vin=LPSED3KO0NL000001", "vin=%00x"])
def test_an_invalid_vin_is_a_422_page_with_the_reason(client, world, query):
    response = client.get(f"/vehicle?{query}")
    assert response.status_code in (400, 422)
    assert b'role="alert"' in response.data and b"<form" in response.data
    if "NOT" in query:
        assert response.status_code == 422 and b"Not a VIN" in response.data


def test_an_unknown_model_is_a_422_page(client, world):
    response = client.get("/vehicle?model=polestar-9&year=2023")
    assert response.status_code == 422 and b"Unknown model" in response.data


def test_the_empty_form_offers_models_grouped_by_brand(client, world):
    response = client.get("/vehicle")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<optgroup label="Polestar">' in html and '<optgroup label="MG">' in html


def test_bulletin_page_renders_the_body_and_escapes_markup(client, world, session):
    bulletin(session, "PS-R-XSS", texts={"en": {
        "title": "<script>alert('t')</script>", "summary": "<b>s</b>",
        "body": "Workshops **replace** it.\n\n<script>alert(1)</script>\n\n"
                "[x](javascript:alert(1))"}})
    response = client.get("/bulletins/ps-r-xss")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>replace</strong>" in html
    assert "<script>alert" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;s&lt;/b&gt;" in html
    assert "Polestar 2" in html  # the models it applies to, by name


def test_an_unknown_bulletin_is_a_404_page(client, world):
    response = client.get("/bulletins/NOPE-1")
    assert response.status_code == 404 and b"NOPE-1" in response.data


def test_a_page_with_a_vin_is_never_cached(client, world):
    assert client.get(f"/vehicle?vin={POLESTAR_2}").headers["Cache-Control"] == "no-store"


def test_a_vin_of_a_group_narrows_the_models_to_the_groups_brands(client, world, make):
    geely, zeekr = make.brand("geely", name="Geely"), make.brand("zeekr", name="ZEEKR")
    make.model(geely, "geely-ex5", name="EX5", year_from=2024)
    make.model(zeekr, "zeekr-7x", name="7X", year_from=2024)
    page = client.get("/vehicle?vin=L6TBX2E76SA000007&lang=en").text
    models = re.search(r'<select id="model".*?</select>', page, re.S).group(0)
    assert "geely-ex5" in models and "zeekr-7x" in models
    assert "polestar-2" not in models and "mg-mg4" not in models
    assert "Geely and ZEEKR" in page
