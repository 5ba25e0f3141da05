"""The staff coverage page in a real browser at 1280 and 360 px: counted searches as a
ranked table and a map of cells, the brand and country filters, the CSV link."""

from __future__ import annotations

import re

import pytest

from service_portal.coverage import app_tally
from tests.browser.conftest import ARTIFACTS
from tests.test_owner_pages import _seeded_template, database_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
EMAIL = "coverage-browser@portal.example"
WIDTHS = [pytest.param((1280, 800), id="desktop"), pytest.param((360, 740), id="phone")]
#: Owners' searches: (lat, lon, brand, times). NIO owners find no authorised or partner
#: NIO shop within 25 km of Riyadh or of Frankfurt (the demo data has none); BYD owners in
#: Frankfurt do.
SEARCHES = [(24.7136, 46.6753, "nio", 4), (50.1109, 8.6821, "byd", 2),
            (50.1109, 8.6821, "nio", 3), (1.3521, 103.8198, None, 2)]


@pytest.fixture
def signed_in(browser, live_server, app, make, request):
    """Searches counted, then a staff member's coverage page at the test's width."""
    width, height = request.param
    client = app.test_client()
    for lat, lon, brand, times in SEARCHES:
        for _ in range(times):
            query = {"lat": lat, "lon": lon, "radius_km": 25, **({"brand": brand} if brand
                                                                  else {})}
            assert client.get("/api/v1/shops", query_string=query).status_code == 200
    assert app_tally(app).flush_all() == sum(s[3] for s in SEARCHES)
    make.user("staff", email=EMAIL, password=PASSWORD)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/cases$"))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def first_cells(page) -> list[str]:
    return [t.strip() for t in page.locator("table.coverage tbody tr td:first-child")
            .all_inner_texts()]


@pytest.mark.parametrize("signed_in", WIDTHS, indirect=True)
def test_staff_find_where_owners_search_in_vain(signed_in, live_server):
    page = signed_in
    page.get_by_role("link", name="Coverage").first.click()
    page.wait_for_url(re.compile(r"/staff/coverage$"))
    assert page.get_by_role("heading", name="Coverage gaps").is_visible()
    places = first_cells(page)
    assert places[0].startswith("Riyadh")  # 4 searches, none served: ranked first
    assert places[1].startswith("Frankfurt am Main")  # 3 NIO searches, none served
    assert any(p.startswith("Frankfurt am Main") for p in places)
    map_box = page.locator("#coverage-map")
    map_box.wait_for(state="visible")
    assert int(map_box.get_attribute("data-cells")) == len(places)
    assert page.locator("#coverage-map path.leaflet-interactive").count() == len(places)
    assert no_sideways_scroll(page)

    page.get_by_label("Brand").select_option(label="BYD")
    page.get_by_label("Country").select_option(label="Germany")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"brand=byd.*country=DE"))
    places = first_cells(page)
    assert places == [places[0]] and places[0].startswith("Frankfurt am Main")
    row = page.locator("table.coverage tbody tr").first.inner_text()
    assert "0%" in row  # found an authorised or partner shop every time
    assert no_sideways_scroll(page)

    href = page.get_by_role("link", name="Download CSV").get_attribute("href")
    response = page.request.get(live_server + href)
    assert response.status == 200 and "text/csv" in response.headers["content-type"]
    lines = response.text().strip().splitlines()
    assert lines[0].lstrip("\ufeff").startswith("brand,country,cell,")
    assert len(lines) == 2 and lines[1].startswith("byd,DE,")
