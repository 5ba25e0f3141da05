"""Time a large stock import (`service-portal import-stock`) against a naive ORM loop.

    python benchmarks/import.py --db /tmp/bench100k.db --rows 1000000

Copies the SQLite file given (made with `seed --shops 100000`), writes a stock CSV of
`--rows` rows spanning its generated shops, imports it with the real command under
/usr/bin/time -v (wall time, peak RSS), then times a naive ORM loop (a query and an
add or update per row) on a sample of the same file. Prints a table.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_csv(db: Path, path: Path, rows: int) -> None:
    with sqlite3.connect(db) as conn:
        shops = [r[0] for r in conn.execute(
            "SELECT external_id FROM shops WHERE external_id LIKE 'gen-%' ORDER BY id")]
        parts = [r[0] for r in conn.execute(
            "SELECT part_number FROM parts WHERE superseded_by_id IS NULL ORDER BY id")]
    per_shop = max(1, -(-rows // len(shops)))
    rng = random.Random(11)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["shop_external_id", "part_number", "qty", "price", "currency"])
        written = 0
        for shop in shops:
            for part in rng.sample(parts, per_shop):
                writer.writerow([shop, part, rng.randint(0, 40),
                                 f"{rng.uniform(5, 900):.2f}", "EUR"])
                written += 1
                if written == rows:
                    return


def timed_command(db: Path, csv_path: Path) -> dict:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c",
                           "from service_portal.cli import main; main()", "import-stock",
                           str(csv_path)], env=env, capture_output=True, text=True, check=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", done.stderr).group(1)
    minutes, _sep, seconds = wall.rpartition(":")
    seconds_total = float(seconds) + 60 * float(minutes or 0)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return {"seconds": seconds_total, "rss_mb": rss / 1024, "output": done.stdout.strip()}


def naive_orm(db: Path, csv_path: Path, sample: int) -> float:
    """Rows per second of the textbook loop: select the row, update or add, per row."""
    from decimal import Decimal

    from sqlmodel import Session, select

    from service_portal.db import make_engine
    from service_portal.parts.models import Part, Stock
    from service_portal.shops.models import Shop

    engine = make_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    with Session(engine) as session, csv_path.open() as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            if i == sample:
                break
            shop_id = session.exec(select(Shop.id).where(
                Shop.external_id == row["shop_external_id"])).one()
            part_id = session.exec(select(Part.id).where(
                Part.part_number == row["part_number"])).one()
            stock = session.exec(select(Stock).where(Stock.shop_id == shop_id,
                                                     Stock.part_id == part_id)).first()
            if stock is None:
                stock = Stock(shop_id=shop_id, part_id=part_id, qty=0, currency="EUR")
            stock.qty, stock.price = int(row["qty"]), Decimal(row["price"])
            session.add(stock)
            session.flush()
        session.rollback()
    engine.dispose()
    return sample / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-sample", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "import.db"
        shutil.copyfile(args.db, db)
        csv_path = Path(tmp) / "stock.csv"
        write_csv(db, csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        ours = timed_command(db, csv_path)
        naive = naive_orm(db, csv_path, args.naive_sample)
    print(f"command: python benchmarks/import.py --db {args.db} --rows {args.rows}")
    print(f"file: {args.rows:,} rows, {size_mb:.0f} MB; import said: {ours['output']}\n")
    print("| what | rows | seconds | rows/s | peak RSS |")
    print("|---|---|---|---|---|")
    print(f"| service-portal import-stock | {args.rows:,} | {ours['seconds']:.1f} | "
          f"{args.rows / ours['seconds']:,.0f} | {ours['rss_mb']:.0f} MB |")
    print(f"| naive ORM loop (sample) | {args.naive_sample:,} | "
          f"{args.naive_sample / naive:.1f} | {naive:,.0f} | |")
    print(f"| naive ORM loop, extrapolated | {args.rows:,} | {args.rows / naive:.0f} | "
          f"{naive:,.0f} | |")


if __name__ == "__main__":
    main()
