"""The owner pages in a real browser: map and list agree, filters, no JavaScript, Arabic at
360 px, JSON-LD, and axe-core finds no serious or critical accessibility problem."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.test_owner_pages import _seeded_template, database_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
FRANKFURT = "/?near=Frankfurt+am+Main"


@pytest.fixture
def offline_tiles(phone):
    """No map tiles from outside: the tests must not depend on the network."""
    phone.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    return phone


def list_ids(page) -> list[int]:
    return [int(i) for i in page.eval_on_selector_all(
        "li.result", "items => items.map(li => li.dataset.shopId)")]


def marker_ids(page) -> list[int]:
    page.wait_for_function("window.portalMap && window.portalMap.markers.length > 0")
    return page.evaluate("window.portalMap.markers.map(m => m.shopId)")


def test_map_markers_match_the_list(offline_tiles, live_server):
    page = offline_tiles
    page.goto(f"{live_server}{FRANKFURT}&limit=8")
    ids = list_ids(page)
    assert len(ids) == 8
    assert marker_ids(page) == ids
    assert page.is_visible("#map")
    # Every marker is on the map, some perhaps inside a cluster.
    shown = page.evaluate("window.portalMap.markers.filter("
                          "m => window.portalMap.cluster.hasLayer(m)).length")
    assert shown == 8


def test_brand_and_service_filters_change_the_results(offline_tiles, live_server):
    page = offline_tiles
    page.goto(f"{live_server}{FRANKFURT}")
    everything = list_ids(page)
    page.select_option("#brand", "byd")
    page.click("summary")
    page.check("#service-hv-battery")
    page.click("button.primary")
    page.wait_for_url("**brand=byd**")
    filtered = list_ids(page)
    assert "service=hv-battery" in page.url
    assert "vin=" not in page.url  # empty fields stay out of the shareable link
    assert filtered and set(filtered) < set(everything)
    assert marker_ids(page) == filtered


def test_models_narrow_to_the_chosen_brand(offline_tiles, live_server):
    page = offline_tiles
    page.goto(f"{live_server}/")
    page.select_option("#brand", "nio")
    visible = page.eval_on_selector_all(
        "#model optgroup", "groups => groups.filter(g => !g.disabled).map(g => g.dataset.brand)")
    assert visible == ["nio"]


def test_search_works_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 360,
                                                                       "height": 740})
    page = context.new_page()
    page.goto(f"{live_server}/")
    page.fill("#near", "Oslo")
    page.select_option("#brand", "byd")
    page.click("button.primary")
    page.wait_for_url("**near=Oslo**")
    assert page.locator("li.result").count() > 0
    assert page.is_hidden("#map")  # the map needs scripts; the list does not
    # Chromium asks for en-US: its readers get miles.
    heading = page.inner_text("#results-heading")
    assert " mi of Oslo" in heading and heading.endswith("Oslo")  # the place as typed
    context.close()


def test_use_my_location_searches_around_the_reader(browser, live_server):
    """With the location allowed, the button fills the coordinates and searches there."""
    context = browser.new_context(viewport={"width": 360, "height": 740},
                                  geolocation={"latitude": 50.1109, "longitude": 8.6821},
                                  permissions=["geolocation"])
    page = context.new_page()
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page.goto(f"{live_server}/")
    page.click("#locate")
    page.wait_for_url("**lat=50.1109**")
    args = parse_qs(urlsplit(page.url).query)
    assert args["lat"] == ["50.11090"] and args["lon"] == ["8.68210"]
    assert "near" not in args and "vin" not in args  # a clean, shareable link
    assert len(list_ids(page)) > 0
    assert page.inner_text("#results-heading").endswith("of your location")
    context.close()


def test_use_my_location_refused_says_to_type_a_place(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, permissions=[])
    page = context.new_page()
    page.goto(f"{live_server}/")
    page.click("#locate")
    page.wait_for_function("document.getElementById('locate-status').textContent"
                           ".includes('type a place')")
    assert page.url == f"{live_server}/"
    context.close()


def test_arabic_search_reads_right_to_left_at_360px(offline_tiles, live_server):
    page = offline_tiles
    page.goto(f"{live_server}/?near=Oslo&lang=ar")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.locator("li.result").count() > 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_shop_page_carries_auto_repair_json_ld(offline_tiles, live_server):
    page = offline_tiles
    page.goto(f"{live_server}{FRANKFURT}")
    name = page.inner_text("li.result h3")
    page.click("li.result h3 a")
    raw = page.text_content('script[type="application/ld+json"]')
    data = json.loads(raw)
    assert data["@type"] == "AutoRepair" and data["name"] == name
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def _serious_violations(browser, url: str) -> list[dict]:
    # axe is injected as an inline script: the page's CSP would refuse it, rightly.
    context = browser.new_context(bypass_csp=True, viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page.goto(url)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    context.close()
    return [{"id": v["id"], "impact": v["impact"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("path", [
    "/",
    FRANKFURT,
    "/?near=Frnakfurt",
    "/?near=Frankfurt+am+Main&radius_km=1&brand=polestar",
    "/shops/1",
    "/parts/BYD-10367236-00?near=Frankfurt+am+Main",
    "/vehicle",
    "/vehicle?model=byd-atto-3&year=2023&country=DE",
    "/help",
    "/help/sent?reference=SP-2026-ABCD2345",
    "/cases/status",
])
def test_owner_pages_have_no_serious_accessibility_violations(browser, live_server, path,
                                                              lang):
    sep = "&" if "?" in path else "?"
    assert _serious_violations(browser, f"{live_server}{path}{sep}lang={lang}") == []
