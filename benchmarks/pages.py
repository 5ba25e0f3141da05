"""Time the owner pages server-side (search with 20 results, shop, part) and print a table;
with --transfer, what a phone on a slow network downloads for them.

    python benchmarks/pages.py                         # the demo data in a temporary SQLite file
    python benchmarks/pages.py --db sqlite:////tmp/demo.db --requests 300
    python benchmarks/pages.py --transfer              # bytes and LCP in Chromium, slow 4G

Each page is requested through the Flask test client (no network, no browser): the time
is what the server spends routing, searching, rendering and answering. The target of the
search page is under 50 ms at p95 on the demo data set (`service-portal seed`).

With --transfer, the app is served on loopback and Chromium (/usr/bin/chromium) opens each
page at 360x740 under a slow-4G profile (CDP throttling: 150 ms round trip, 1.6 Mbit/s
down, 750 kbit/s up), twice in the same browser context: a first visit with an empty
cache, then a repeat visit. It prints the bytes that crossed the network (compressed, with
headers) from the portal itself, the number of requests, and the Largest Contentful Paint
of each visit. Map tiles come from an outside tile server, which this measurement does not
reach; they are counted apart. Targets (issue 17): the search page with 20 results at most
120 KB on a first visit and 25 KB on a repeat visit, LCP at most 2.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

from service_portal import create_app

PAGES = [
    ("search, 20 results", "/?near=Frankfurt+am+Main&radius_km=500"),
    ("search, 20 results, brand + service", "/?near=Frankfurt+am+Main&radius_km=1000&brand=byd"
     "&service=maintenance"),
    ("search, 20 results, sort=best", "/?near=Oslo&radius_km=1000&sort=best"),
    ("search form (no place)", "/"),
    ("shop page", "/shops/1"),
    ("part page near a place", "/parts/BYD-10367236-00?near=Frankfurt+am+Main&radius_km=500"),
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def seeded_database(folder: str) -> str:
    """`service-portal init-db` and `seed` into a fresh SQLite file."""
    from click.testing import CliRunner

    from service_portal.cli import main as cli

    url = f"sqlite:///{folder}/pages.db"
    for command in ("init-db", "seed"):
        result = CliRunner().invoke(cli, [command], env={"DATABASE_URL": url})
        if result.exit_code:
            sys.exit(f"{command} failed: {result.output}")
    return url


TRANSFER_PAGES = [
    ("search, 20 results", "/?near=Frankfurt+am+Main&radius_km=500"),
    ("shop page", "/shops/1"),
    ("help form", "/help"),
]
SLOW_4G = {"offline": False, "latency": 150, "downloadThroughput": 1_600_000 / 8,
           "uploadThroughput": 750_000 / 8}
LCP_SCRIPT = """() => new Promise(resolve => {
  new PerformanceObserver(list => {
    const entries = list.getEntries();
    resolve(entries[entries.length - 1].startTime);
  }).observe({type: 'largest-contentful-paint', buffered: true});
  setTimeout(() => resolve(null), 5000);
})"""


def visit(page, cdp, url: str, origin: str) -> dict:
    """Open `url`; the portal's bytes and requests, other origins' requests, and the LCP."""
    sizes: dict[str, int] = {}
    urls: dict[str, str] = {}
    cdp.on("Network.requestWillBeSent",
           lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished",
           lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    page.goto(url, wait_until="load")
    page.wait_for_timeout(500)
    lcp = page.evaluate(LCP_SCRIPT)
    # Answered from the browser's cache: no bytes crossed the network, not a request.
    own = [rid for rid in sizes if urls.get(rid, "").startswith(origin) and sizes[rid] > 0]
    return {"bytes": sum(sizes[rid] for rid in own), "requests": len(own),
            "outside": sum(1 for u in urls.values() if not u.startswith(origin)), "lcp": lcp}


def transfer(url: str) -> None:
    import logging
    import threading

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "b" * 40, "RATELIMIT_ENABLED": False})
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    warm = app.test_client()  # as `serve` warms each worker before it takes requests
    for _name, path in TRANSFER_PAGES:
        warm.get(path)
    print(f"{'page':24} {'visit':7} {'KB':>7} {'requests':>8} {'outside':>8} {'LCP ms':>7}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        for name, path in TRANSFER_PAGES:
            context = browser.new_context(viewport={"width": 360, "height": 740})
            for visit_name in ("first", "repeat"):
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.emulateNetworkConditions", SLOW_4G)
                result = visit(page, cdp, origin + path, origin)
                lcp = f"{result['lcp']:.0f}" if result["lcp"] is not None else "-"
                print(f"{name:24} {visit_name:7} {result['bytes'] / 1024:>7.1f} "
                      f"{result['requests']:>8} {result['outside']:>8} {lcp:>7}")
                page.close()
            context.close()
        browser.close()
    server.shutdown()
    app.extensions["service_portal.engine"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLAlchemy URL of a seeded database (default: seed one)")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--transfer", action="store_true",
                        help="bytes and LCP in Chromium on a slow 4G profile instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or seeded_database(folder)
        if args.transfer:
            transfer(url)
            return
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "b" * 40, "RATELIMIT_ENABLED": False})
        client = app.test_client()
        print(f"{'page':40} {'results':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8}")
        for name, path in PAGES:
            first = client.get(path)  # warm caches (templates, parsed SQL, hours)
            assert first.status_code == 200, (path, first.status_code)
            results = first.get_data(as_text=True).count('<li class="result"')
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            print(f"{name:40} {results:>7} {statistics.median(times):>8.1f} "
                  f"{percentile(times, 95):>8.1f} {1000 / statistics.mean(times):>8.0f}")
        app.extensions["service_portal.engine"].dispose()


if __name__ == "__main__":
    main()
