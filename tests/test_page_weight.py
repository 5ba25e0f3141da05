"""What an owner's phone downloads: compressed pages, static files under hashed names kept
for a year, and owner pages written in the reader's conventions (phones, addresses, lists,
radii, expired qualifications)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from service_portal.formats import address_lines

STATIC = re.compile(r'(?:href|src)="(/static/[^"]+)"')


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def shop(make):
    byd = make.brand("byd")
    return make.shop(name="Mainufer E-Service", address="Hanauer Landstraße 12",
                     postal_code="60314", city="Frankfurt am Main", phone="+49696529894",
                     hv_level="2S", hv_valid_until=date.today() - timedelta(days=30),
                     brands=[(byd, "authorized")], languages=["de", "en", "ar"])


@pytest.mark.parametrize("encoding, expected", [("br", "br"), ("gzip", "gzip"),
                                                ("gzip, deflate, br, zstd", "br")])
def test_pages_and_static_files_come_compressed(client, shop, encoding, expected):
    page = client.get(f"/shops/{shop.id}", headers={"Accept-Encoding": encoding})
    assert page.headers["Content-Encoding"] == expected
    assert "Accept-Encoding" in page.headers["Vary"]
    plain = client.get(f"/shops/{shop.id}")
    assert "Content-Encoding" not in plain.headers
    assert len(page.data) * 2 < len(plain.data)
    for url in STATIC.findall(plain.text):
        if url.endswith((".css", ".js")):
            response = client.get(url, headers={"Accept-Encoding": encoding})
            assert response.headers["Content-Encoding"] == expected, url


def test_static_files_have_hashed_names_and_are_kept_for_a_year(client, shop):
    urls = STATIC.findall(client.get(f"/shops/{shop.id}").text)
    assert any(u.endswith(".css") for u in urls) and any(u.endswith(".js") for u in urls)
    for url in urls:
        assert re.search(r"\.[0-9a-f]{12}\.[a-z]+$", url), url
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = re.sub(r"\.[0-9a-f]{12}(\.[a-z]+)$", r"\1", urls[0])
    response = client.get(plain)
    assert response.status_code == 200 and "no-cache" in response.headers["Cache-Control"]
    assert client.get(plain, headers={"If-None-Match": response.headers["ETag"]}) \
        .status_code == 304
    assert client.get("/static/../config.py").status_code == 404


def test_a_stale_hash_gets_the_current_file_without_the_long_lifetime(client):
    response = client.get("/static/css/portal.000000000000.css")
    assert response.status_code == 200 and "no-cache" in response.headers["Cache-Control"]


def test_static_files_stay_cacheable_for_signed_in_users(app, make, client):
    from tests.helpers import sign_in

    make.user("staff", email="staff@example.test", password="correct horse battery")
    sign_in(client, "staff@example.test", "correct horse battery")
    page = client.get("/staff/cases")
    assert page.headers["Cache-Control"] == "no-store"
    css = STATIC.findall(page.text)[0]
    assert "immutable" in client.get(css).headers["Cache-Control"]


def test_a_phone_stays_left_to_right_and_grouped_on_an_arabic_page(client, shop):
    page = client.get(f"/shops/{shop.id}?lang=ar").text
    assert '<bdi dir="ltr">+49 69 6529894</bdi>' in page
    assert 'href="tel:+49696529894"' in page


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))


def test_lists_follow_the_readers_language(client, shop):
    assert "Arabisch, Deutsch und Englisch" in _text(client.get(f"/shops/{shop.id}?lang=de").text)
    assert "Arabic, German, and English" in _text(client.get(f"/shops/{shop.id}?lang=en").text)


def test_a_lapsed_qualification_says_expired(client, shop):
    page = client.get(f"/shops/{shop.id}?lang=en").text
    assert "expired on" in page and "valid until" not in page


def test_the_address_follows_the_countrys_order(client, shop):
    page = client.get(f"/shops/{shop.id}?lang=ar").text
    assert "<bdi>Hanauer Landstraße 12</bdi><br>" in page
    assert "<bdi>60314 Frankfurt am Main</bdi>" in page


@pytest.mark.parametrize("fields, lines", [
    ({"country": "DE", "address": "Hanauer Landstraße 12", "postal_code": "60314",
      "city": "Frankfurt am Main"}, ["Hanauer Landstraße 12", "60314 Frankfurt am Main"]),
    ({"country": "US", "address": "12 Main St", "postal_code": "40601", "city": "Frankfort"},
     ["12 Main St", "Frankfort, 40601"]),
    ({"country": "GB", "address": "1 High St", "postal_code": "SW1A 1AA", "city": "London"},
     ["1 High St", "London", "SW1A 1AA"]),
    ({"country": "JP", "address": "1-2-3 Ginza", "postal_code": "104-0061",
      "city": "Chuo-ku"}, ["1-2-3 Ginza, Chuo-ku", "104-0061"]),
    ({"country": "SA", "address": "طريق الملك فهد 4321", "postal_code": "12271",
      "city": "الرياض"}, ["طريق الملك فهد 4321", "الرياض 12271"]),
    ({"country": "DE", "address": None, "postal_code": None, "city": "Berlin"}, ["Berlin"]),
])
def test_address_lines_in_the_countrys_order(fields, lines):
    assert address_lines(fields) == lines


@pytest.mark.parametrize("lang, shown", [("en-GB", ["5 mi", "10 mi", "25 mi", "50 mi"]),
                                         ("de", ["10 km", "25 km", "50 km", "100 km"])])
def test_radius_choices_are_round_in_the_readers_unit(client, lang, shown):
    page = client.get(f"/?lang={lang}").text
    select = re.search(r'<select id="radius_km".*?</select>', page, re.S).group(0)
    labels = [re.sub(r"\s+", " ", t).strip()
              for t in re.findall(r"<option[^>]*>([^<]+)</option>", select)]
    for label in shown:
        assert label in labels
    assert not any(re.search(r"[.,]\d(?!\d)", label) for label in labels), labels


def test_a_reader_of_miles_searches_25_miles_unless_they_choose(client, make):
    make.shop(name="Near Frankfurt", city="Frankfurt am Main")
    page = _text(client.get("/?near=Frankfurt+am+Main&lang=en-GB").text)
    assert "within 25 mi of" in page
    page = _text(client.get("/?near=Frankfurt+am+Main&lang=de").text)
    assert "im Umkreis von 50 km" in page
