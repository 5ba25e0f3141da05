"""Time the owner pages server-side (search with 20 results, shop, part) and print a table.

    python benchmarks/pages.py                         # the demo data in a temporary SQLite file
    python benchmarks/pages.py --db sqlite:////tmp/demo.db --requests 300

Each page is requested through the Flask test client (no network, no browser): the time
is what the server spends routing, searching, rendering and answering. The target of the
search page is under 50 ms at p95 on the demo data set (`service-portal seed`).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLAlchemy URL of a seeded database (default: seed one)")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or seeded_database(folder)
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
