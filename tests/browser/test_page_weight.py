"""What the search page costs a phone on a slow network (issue 17's figures), measured in
Chromium with CDP throttling on the demo data: bytes from the portal on a first and a
repeat visit, and the Largest Contentful Paint. Map tiles come from outside and are not
counted (this machine cannot reach them; they are not routed away either, because
Playwright's routing turns the browser's cache off)."""

from __future__ import annotations

import pytest

from tests.test_owner_pages import _seeded_template, database_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SEARCH = "/?near=Frankfurt+am+Main&radius_km=500"
SLOW_4G = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8,
           "uploadThroughput": 750_000 / 8}
LCP = """() => new Promise(resolve => {
  new PerformanceObserver(list => {
    const entries = list.getEntries();
    resolve(entries[entries.length - 1].startTime);
  }).observe({type: 'largest-contentful-paint', buffered: true});
  setTimeout(() => resolve(null), 5000);
})"""


def _visit(context, url: str, origin: str) -> tuple[int, float]:
    """Open `url` throttled; (bytes the portal sent over the network, LCP in ms)."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    urls, sizes = {}, {}
    cdp.on("Network.requestWillBeSent",
           lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished",
           lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    lcp = page.evaluate(LCP)
    page.close()
    return sum(n for rid, n in sizes.items() if urls.get(rid, "").startswith(origin)), lcp


@pytest.mark.parametrize("width", [360, 1280])
def test_the_search_page_is_light_on_a_slow_phone_network(app, browser, live_server, width):
    app.test_client().get(SEARCH)  # a served worker is warmed before it takes requests
    context = browser.new_context(viewport={"width": width, "height": 740})
    first, first_lcp = _visit(context, live_server + SEARCH, live_server)
    repeat, _lcp = _visit(context, live_server + SEARCH, live_server)
    context.close()
    assert first <= 120 * 1024, f"first visit: {first / 1024:.1f} KB"
    assert repeat <= 25 * 1024, f"repeat visit: {repeat / 1024:.1f} KB"
    assert first_lcp is not None and first_lcp <= 2500, f"LCP {first_lcp} ms"
