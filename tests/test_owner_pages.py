"""The owner pages over the Flask test client: the search (`/`), a shop and a part, on the
demo data set."""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from service_portal.cli import main
from tests.conftest import PG_URL

FRANKFURT = "/?near=Frankfurt+am+Main"


@pytest.fixture(scope="session")
def _seeded_template(_schema_template, tmp_path_factory) -> str | None:
    """The demo data loaded once per run into a copy of the schema (SQLite only)."""
    if PG_URL:
        return None
    path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    shutil.copyfile(_schema_template, path)
    for command in ("init-db", "seed"):
        result = CliRunner().invoke(main, [command], env={"DATABASE_URL": f"sqlite:///{path}"},
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return str(path)


@pytest.fixture
def database_url(_seeded_template, _schema_template, tmp_path):
    """This test's database, holding the demo data."""
    if _seeded_template is None:  # PostgreSQL: truncate and seed for each test
        from sqlalchemy import text

        from service_portal.db import make_engine
        from service_portal.models import metadata

        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(t.name for t in metadata.sorted_tables)
                              + " RESTART IDENTITY CASCADE"))
        engine.dispose()
        for command in ("init-db", "seed"):
            CliRunner().invoke(main, [command], env={"DATABASE_URL": PG_URL},
                               catch_exceptions=False)
        yield PG_URL
        return
    path = tmp_path / "portal.db"
    shutil.copyfile(_seeded_template, path)
    yield f"sqlite:///{path}"


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def text_of(fragment: str) -> str:
    """What a reader sees: tags removed, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def result_ids(body: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="result" id="shop-\d+" data-shop-id="(\d+)"',
                                       body)]


def result_names(body: str) -> list[str]:
    return [text_of(n) for n in re.findall(r'<li class="result"[^>]*>\s*<h3>(.*?)</h3>', body)]


def heading(body: str) -> str:
    return text_of(re.search(r'<h2 id="results-heading">(.*?)</h2>', body, re.S).group(1))


def links(body: str, text: str) -> list[str]:
    """The targets of the links whose text contains `text`."""
    return [html.unescape(href) for href, inner in
            re.findall(r'<a[^>]*href="([^"]*)"[^>]*>(.*?)</a>', body, re.S)
            if text in text_of(inner)]


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_front_page_without_a_place_shows_the_form_and_the_counts(client):
    body = page(client, "/")
    assert '<form method="get" action="/"' in body
    assert "315 shops" in text_of(body)
    assert 'id="results"' not in body


def test_search_lists_the_nearest_demo_shops_in_the_api_order(client):
    body = page(client, FRANKFURT)
    api = client.get("/api/v1/shops?near=Frankfurt+am+Main").get_json()
    assert heading(body) == "11 shops within 50 km of Frankfurt am Main"  # as typed
    assert result_ids(body) == [r["id"] for r in api["results"]]
    assert result_names(body)[0] == api["results"][0]["name"]
    first = api["results"][0]
    assert f'href="tel:{first["phone"]}"' in body
    assert f'href="geo:{first["lat"]},{first["lon"]}"' in body
    assert f"https://www.openstreetmap.org/directions?to={first['lat']},{first['lon']}" in body


def test_map_markers_are_the_listed_shops_in_list_order(client):
    body = page(client, FRANKFURT + "&limit=5")
    data = re.search(r'<script type="application/json" id="results-data">(.*?)</script>',
                     body, re.S).group(1)
    markers = json.loads(data)
    assert [m["id"] for m in markers] == result_ids(body)
    assert all(m["url"] == f"/shops/{m['id']}" for m in markers)


def test_brand_and_service_filters_narrow_the_results(client):
    everything = result_ids(page(client, FRANKFURT))
    body = page(client, FRANKFURT + "&brand=byd&service=hv-battery")
    filtered = result_ids(body)
    assert filtered and set(filtered) < set(everything)
    assert heading(body).startswith(f"{len(filtered)} shops within 50 km")
    cards = text_of(body)
    assert "Authorised for your brand" in cards or "Partner workshop for your brand" in cards
    assert "Offers the services you need" in cards
    assert cards.count("BYD: ") == len(filtered)


def test_paging_links_keep_every_parameter(client):
    first = page(client, FRANKFURT + "&limit=4&service=maintenance&sort=best&radius_km=100")
    [following] = links(first, "Next page")
    args = query(following)
    assert args == {"near": ["Frankfurt am Main"], "limit": ["4"], "service": ["maintenance"],
                    "sort": ["best"], "radius_km": ["100"], "offset": ["4"]}
    second = page(client, following)
    assert not set(result_ids(second)) & set(result_ids(first))
    [back] = links(second, "Previous page")
    assert "offset" not in query(back) and query(back)["service"] == ["maintenance"]


def test_bad_parameter_is_a_400_page_in_the_readers_language(client):
    body = page(client, "/?near=Oslo&radius_km=5000&lang=de", status=400)
    assert "Muss zwischen 0.0 und 1000.0 liegen: 5000" in text_of(body)
    assert 'name="near"' in body and 'value="Oslo"' in body  # the form stays to fix it


def test_unknown_place_is_a_422_with_suggestions_as_links(client):
    body = page(client, "/?near=Frankfurtt&brand=byd", status=422)
    assert "We do not know the place “Frankfurtt”." in text_of(body)
    [suggestion] = links(body, "Frankfurt am Main")
    assert query(suggestion) == {"near": ["Frankfurt am Main"], "country": ["DE"],
                                 "brand": ["byd"]}
    assert result_ids(page(client, suggestion))


def test_invalid_vin_is_a_form_error(client):
    body = page(client, FRANKFURT + "&vin=NOT-A-VIN", status=422)
    assert "Not a VIN: 17 letters and digits, without I, O and Q." in text_of(body)
    assert 'aria-invalid="true"' in body


def test_vin_stands_for_its_brand(client):
    body = page(client, FRANKFURT + "&vin=LSJA24U68NS000004")  # an MG
    assert "This VIN is a MG." in text_of(body)
    assert result_ids(body) == result_ids(page(client, FRANKFURT + "&brand=mg"))


def test_model_of_another_brand_is_a_422(client):
    body = page(client, FRANKFURT + "&brand=nio&model=byd-seal", status=422)
    assert "The model byd-seal is not a nio." in text_of(body)


def test_empty_result_says_why_and_offers_to_widen(client):
    body = page(client, FRANKFURT + "&radius_km=1&brand=polestar&service=towing", status=200)
    assert heading(body) == "0 shops within 1 km of Frankfurt am Main"
    assert "No shop within 1 km of Frankfurt am Main matches all your filters." \
        in text_of(body)
    [wider] = links(body, "Search within 2 km")
    assert query(wider)["radius_km"] == ["2"]
    [no_brand] = links(body, "Search without the filter brand Polestar")
    assert "brand" not in query(no_brand) and query(no_brand)["service"] == ["towing"]
    [no_towing] = links(body, "Search without the filter Towing and recovery")
    assert "service" not in query(no_towing)


def test_empty_result_without_filters_says_there_is_no_shop(client):
    body = page(client, "/?lat=0&lon=-30&radius_km=1000")
    assert "There is no shop within 1,000 km of your location yet." in text_of(body)
    assert not links(body, "Search within")  # already the largest radius


def test_shop_page_shows_the_shop(client):
    shop = client.get("/api/v1/shops?near=Oslo&limit=1").get_json()["results"][0]
    body = page(client, f"/shops/{shop['id']}")
    seen = text_of(body)
    assert shop["name"] in seen and shop["address"] in seen
    assert f'href="tel:{shop["phone"]}"' in body
    assert "Opening hours" in seen and "(today)" in seen
    assert "Local time (Europe/Oslo)" in seen


def test_shop_page_json_ld_describes_an_auto_repair_shop(client):
    shop = client.get("/api/v1/shops?near=Oslo&limit=1").get_json()["results"][0]
    body = page(client, f"/shops/{shop['id']}")
    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S).group(1)
    data = json.loads(raw)
    assert data["@type"] == "AutoRepair" and data["name"] == shop["name"]
    assert data["address"]["postalCode"] == shop["postal_code"]
    assert data["geo"] == {"@type": "GeoCoordinates", "latitude": shop["lat"],
                           "longitude": shop["lon"]}
    assert data["telephone"] == shop["phone"]
    assert data["url"].endswith(f"/shops/{shop['id']}")


def test_shop_names_cannot_break_out_of_the_json_ld(client, make):
    hostile = make.shop(name="</script><script>alert(1)</script>", website="javascript:alert(1)")
    body = page(client, f"/shops/{hostile.id}")
    assert "<script>alert(1)" not in body
    assert 'href="javascript:' not in body
    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', body, re.S).group(1)
    assert json.loads(raw)["name"] == "</script><script>alert(1)</script>"


def test_unknown_and_inactive_shops_are_404_pages(client, make):
    assert "Nothing was found here." in text_of(page(client, "/shops/999999", status=404))
    closed = make.shop(active=False)
    page(client, f"/shops/{closed.id}", status=404)


def test_part_page_shows_the_chain_and_the_models(client):
    body = page(client, "/parts/BYD-10367236-00")
    seen = text_of(body)
    assert "This part has been replaced. Order BYD-10367236-03 today." in seen
    assert links(body, "BYD-10367236-01") and links(body, "BYD-10367236-03")


def test_part_page_near_a_place_lists_shops_holding_a_successor(client):
    body = page(client, "/parts/BYD-10367236-00?near=Frankfurt+am+Main")
    api = client.get("/api/v1/parts/BYD-10367236-00/availability?near=Frankfurt+am+Main")
    assert result_ids(body) == [r["id"] for r in api.get_json()["results"]]
    assert result_ids(body)
    assert "Has the newer version of the part in stock" in text_of(body)


def test_search_results_link_their_parts_to_the_part_page(client):
    body = page(client, FRANKFURT + "&part=BYD-10367236-03")
    assert links(body, "BYD-10367236-03")[0] == "/parts/BYD-10367236-03"
    assert "in stock" in text_of(body)


def test_unknown_part_is_a_404_page(client):
    body = page(client, "/parts/NOPE-0000", status=404)
    assert "Unknown part number: NOPE-0000" in text_of(body)
