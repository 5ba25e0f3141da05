"""Time `service-portal seed --shops N` on a fresh SQLite file and print a table.

    python benchmarks/seed.py --shops 100000

Runs the real command under /usr/bin/time -v (wall time and peak memory)."""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path


def run(shops: int) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
        cli = [sys.executable, "-c", "from service_portal.cli import main; main()"]
        subprocess.run([*cli, "init-db"], env=env, check=True, capture_output=True)
        command = ["/usr/bin/time", "-v", *cli, "seed", "--shops", str(shops)]
        done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", done.stderr).group(1)
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
                  .group(1))
        with sqlite3.connect(db) as conn:
            shops_n = conn.execute("SELECT count(*) FROM shops").fetchone()[0]
            stock_n = conn.execute("SELECT count(*) FROM stock").fetchone()[0]
    return {"command": f"service-portal seed --shops {shops}", "shops": f"{shops_n:,}",
            "stock rows": f"{stock_n:,}", "wall": wall, "max RSS": f"{rss / 1024:.0f} MB"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=100_000)
    row = run(parser.parse_args().shops)
    print("| " + " | ".join(row) + " |")
    print("|" + "---|" * len(row))
    print("| " + " | ".join(row.values()) + " |")


if __name__ == "__main__":
    main()
