"""Time how the search index follows writes, at size, and print a table (issue: search under
writes).

    python benchmarks/refresh.py --db sqlite:////tmp/bench100k.db      # after seed --shops N

In one process: the first load of the index; then, for each of --changes rounds, one shop
changed by another connection (its profile, its languages, or moved) and committed, and
the next `ShopIndex.current()` timed: the refresh that brings the index up to date (read
the changed shop and its links by id, append a row). Also timed: the question each search
asks when nothing changed, and a change that is not the search's business (a sale), which
costs the index nothing. Compactions (the arrays copied, once per many changes) are
counted and timed apart.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from sqlalchemy import text

from service_portal import create_app
from service_portal.db import make_engine, writer
from service_portal.search import app_index


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of a seeded database")
    parser.add_argument("--changes", type=int, default=300)
    args = parser.parse_args()
    app = create_app({"DATABASE_URL": args.db})
    other = make_engine(args.db)
    index = app_index(app)
    rng = random.Random(3)
    with app.app_context():
        started = time.perf_counter()
        view = index.current()
        load_s = time.perf_counter() - started
        with other.connect() as conn:
            ids = conn.execute(text("SELECT id FROM shops WHERE active")).scalars().all()
            stock = conn.execute(text("SELECT shop_id, part_id FROM stock LIMIT 1000")).all()
        print(f"{len(ids):,} active shops; first load {load_s:.2f} s, "
              f"{view.columns.capacity:,} rows of room")
        unchanged = []
        for _ in range(200):
            started = time.perf_counter()
            index.current()
            unchanged.append((time.perf_counter() - started) * 1000)
        sales, refreshes, compactions = [], [], []
        edits = ("UPDATE shops SET phone = :v WHERE id = :id",
                 "UPDATE shops SET lat = lat + 0.0001 WHERE id = :id",
                 "INSERT INTO shop_languages (shop_id, language) SELECT :id, 'x' || :v "
                 "WHERE NOT EXISTS (SELECT 1 FROM shop_languages WHERE shop_id = :id "
                 "AND language = 'x' || :v)")
        for n in range(args.changes):
            shop_id, part_id = stock[n % len(stock)]
            with writer(other).begin() as conn:  # a sale: not the index's business
                conn.execute(text("UPDATE stock SET qty = qty + 1 WHERE shop_id = :s AND "
                                  "part_id = :p"), {"s": shop_id, "p": part_id})
            started = time.perf_counter()
            index.current()
            sales.append((time.perf_counter() - started) * 1000)
            with writer(other).begin() as conn:
                conn.execute(text(edits[n % len(edits)]),
                             {"id": rng.choice(ids), "v": str(n % 7)})
            before = index.health.compactions
            started = time.perf_counter()
            index.current()
            ms = (time.perf_counter() - started) * 1000
            (compactions if index.health.compactions > before else refreshes).append(ms)
    other.dispose()
    app.extensions["service_portal.engine"].dispose()
    print("| what | count | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    for name, ms in (("nothing changed (the question before each search)", unchanged),
                     ("after a sale (stock is not in the index)", sales),
                     ("refresh after one changed shop", refreshes),
                     ("refresh that compacted the arrays", compactions)):
        if ms:
            print(f"| {name} | {len(ms)} | {statistics.median(ms):.2f} | "
                  f"{percentile(ms, 95):.2f} | {max(ms):.2f} |")


if __name__ == "__main__":
    main()
