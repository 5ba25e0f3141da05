"""What counting a search for the coverage figures costs the search (issue 20 item 5).

    python benchmarks/coverage.py --db sqlite:////tmp/bench100k.db     # after seed --shops N

In process, around the densest cities (as `benchmarks/search.py`), 50 km, limit 20, with
a brand on half the searches: the whole JSON response (`search`) without and with
counting, interleaved point by point so that both meet the same caches and the same
machine load; then the counting path alone (`_served` over the search's matches plus
`Tally.add`), and one batch written (`Tally.flush`, after a response, off the search's
path). The target: counting adds at most 0.1 ms to a search at p95.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import dense_points, percentile  # noqa: E402  (benchmarks/search.py)
from sqlalchemy import text  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from service_portal import create_app  # noqa: E402
from service_portal.coverage import app_tally  # noqa: E402
from service_portal.db import get_session  # noqa: E402
from service_portal.geo.geodesy import ecef_km  # noqa: E402
from service_portal.search import app_index, parse_search_args, search  # noqa: E402
from service_portal.search import exact as exact_module  # noqa: E402
from service_portal.search import response as response_module  # noqa: E402
from service_portal.search.exact import (  # noqa: E402
    SearchQuery,
    _chords_squared,
    _filter_mask,
    _served,
)


def stats(values: list[float]) -> str:
    return f"{percentile(values, 50):.3f} / {percentile(values, 95):.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    # A batch size no run reaches: flushes are timed on their own below.
    app = create_app({"DATABASE_URL": args.db, "COVERAGE_BATCH": 10**9,
                      "COVERAGE_INTERVAL_SECONDS": 10**9})
    tally = app_tally(app)
    rng = random.Random(11)
    with app.test_request_context("/api/v1/shops"):
        session = get_session()
        shops = session.execute(text("SELECT count(*) FROM shops")).scalar()
        points = dense_points(session, args.queries, rng)
        brands = [None, "byd", None, "mg", None, "nio"]
        params = [parse_search_args(MultiDict(
            {"lat": str(lat), "lon": str(lon), **({"brand": b} if b else {})}))
            for (lat, lon), b in zip(points, (brands[i % 6] for i in range(len(points))),
                                     strict=True)]
        for p in params[:50]:  # warm: index, documents, Babel
            search(p, counted=True)
        tally.flush_all()
        # The counting work inside each counted search, timed where it runs: the flag
        # (`exact._served`) and the count (`response.count_search`).
        spent = [0.0]

        def timing(function):
            def timed(*a, **kw):
                started = time.perf_counter()
                try:
                    return function(*a, **kw)
                finally:
                    spent[0] += time.perf_counter() - started
            return timed

        exact_module._served = timing(exact_module._served)
        response_module.count_search = timing(response_module.count_search)
        without, with_count, counting = [], [], []
        for i, p in enumerate(params):
            order = (False, True) if i % 2 else (True, False)
            for counted in order:
                spent[0] = 0.0
                started = time.perf_counter()
                search(p, counted=counted)
                (with_count if counted else without).append(
                    (time.perf_counter() - started) * 1000)
                if counted:
                    counting.append(spent[0] * 1000)
        waiting = tally.waiting()
        # The counting path alone: the flag over the search's matches, and the append.
        view = app_index().current(session)
        served_ms, add_ms = [], []
        for (lat, lon), p in zip(points, params, strict=True):
            brand_id = view.catalog.brands.get(p.brand) if p.brand else None
            query = SearchQuery(lat=lat, lon=lon, radius_km=50, brand_id=brand_id)
            snap, centre = view, ecef_km(lat, lon)
            pos = snap.near(centre, 50)
            c2 = _chords_squared(snap, pos, centre)
            keep = (c2 <= 50 * 50) & _filter_mask(snap, pos, query)
            pos, c2 = pos[keep], c2[keep]
            started = time.perf_counter()
            _served(snap, pos, c2, query, [])  # the worst case: no page rows to ask first
            served_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            tally.add(brand=p.brand, service=None, lat=lat, lon=lon, served=True)
            add_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        written = tally.flush()
        flush_ms = (time.perf_counter() - started) * 1000
    diff95 = percentile(with_count, 95) - percentile(without, 95)
    diff50 = percentile(with_count, 50) - percentile(without, 50)
    print(f"{shops:,} shops, {len(params)} searches each way ({args.db.split(':')[0]})")
    print(f"| whole JSON response, no counting | {stats(without)} |")
    print(f"| whole JSON response, counted | {stats(with_count)} |")
    print(f"| difference p50 / p95 | {diff50:+.3f} / {diff95:+.3f} ms |")
    print(f"| counting inside a counted search (flag + count) | {stats(counting)} |")
    print(f"| `_served` alone, every match read (its worst case) | {stats(served_ms)} |")
    print(f"| `Tally.add` alone | {stats(add_ms)} |")
    print(f"| one flush: {written} searches ({waiting} counted above + these) | "
          f"{flush_ms:.1f} ms |")
    app.extensions["service_portal.engine"].dispose()


if __name__ == "__main__":
    main()
