"""Time the shop search at size and print a table (issue: owner search).

    python benchmarks/search.py --db sqlite:////tmp/bench100k.db      # after seed --shops N
    python benchmarks/search.py --db ... --http                        # also over HTTP (wrk)

In-process rows: the search function alone (`search_shops`, 50 km, limit 20) around the
densest cities in the database, with and without a part filter, and the full JSON
response (`search`). For comparison, the same database is asked the full-scan
spherical query that common store locators use (`... AS distance ... HAVING distance < R
ORDER BY distance LIMIT n`). With --http, `service-portal serve --workers 2` is started and
wrk (loopback, 10 s each after 5 s of warm-up) measures GET /api/v1/brands and a mixed
search workload: a new random point near one of the densest cities for every request, the
five kinds of search in turn, so no URL repeats.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from sqlalchemy import text

from service_portal import create_app
from service_portal.db import get_session
from service_portal.search.exact import SearchQuery, search_shops

# MySQL-style locators write `... HAVING distance < R`; SQLite and PostgreSQL want the
# same full scan as a subquery ({least}: SQLite's two-argument min, PostgreSQL's least).
NAIVE = """
SELECT id, distance FROM (
  SELECT id, 6371.0 * acos({least}(1.0, cos(radians(:lat)) * cos(radians(lat))
         * cos(radians(lon) - radians(:lon)) + sin(radians(:lat)) * sin(radians(lat))))
         AS distance
  FROM shops WHERE active) AS scanned
WHERE distance < :r ORDER BY distance LIMIT 20
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def dense_points(session, count: int, rng: random.Random) -> list[tuple[float, float]]:
    """Search centres near the cities with the most shops (within 5 km of their centre)."""
    rows = session.execute(text(
        "SELECT avg(lat), avg(lon), count(*) AS n FROM shops GROUP BY city "
        "ORDER BY n DESC LIMIT 10")).all()
    return [(lat + rng.uniform(-0.04, 0.04), lon + rng.uniform(-0.04, 0.04))
            for lat, lon, _n in (rows[i % len(rows)] for i in range(count))]


def popular_part(session) -> str:
    return session.execute(text(
        "SELECT p.part_number FROM stock s JOIN parts p ON p.id = s.part_id "
        "WHERE s.qty > 0 GROUP BY p.part_number ORDER BY count(*) DESC LIMIT 1")).scalar()


def timed(fn, points) -> list[float]:
    out = []
    for lat, lon in points:
        started = time.perf_counter()
        fn(lat, lon)
        out.append((time.perf_counter() - started) * 1000)
    return out


def in_process(url: str, queries: int) -> tuple[list[dict], int]:
    app = create_app({"DATABASE_URL": url})
    rows = []
    with app.test_request_context("/api/v1/shops"):
        session = get_session()
        shops = session.execute(text("SELECT count(*) FROM shops")).scalar()
        stock = session.execute(text("SELECT count(*) FROM stock")).scalar()
        size = f"{shops:,} shops / {stock:,} stock"
        rng = random.Random(7)
        points = dense_points(session, queries, rng)
        part = popular_part(session)
        from service_portal.search.resolve import part_chain

        chain = part_chain(session, part)
        totals = []

        def ours(lat, lon, **kw):
            page = search_shops(session, SearchQuery(lat=lat, lon=lon, radius_km=50, limit=20,
                                                     **kw))
            totals.append(page.total)

        naive_sql = text(NAIVE.format(
            least="min" if session.get_bind().dialect.name == "sqlite" else "least"))

        def naive(lat, lon):
            session.execute(naive_sql, {"lat": lat, "lon": lon, "r": 50}).all()

        from werkzeug.datastructures import MultiDict

        from service_portal.search import parse_search_args, search

        def full_json(lat, lon):
            search(parse_search_args(MultiDict({"lat": str(lat), "lon": str(lon)})))

        timed(lambda la, lo: ours(la, lo), points[:20])  # warm caches
        runs = {
            "search_shops (50 km, limit 20)": timed(ours, points),
            f"search_shops + part={part}": timed(lambda la, lo: ours(la, lo,
                                                                  part_chains=[chain]), points),
            "search (full JSON response)": timed(full_json, points),
            "full-scan spherical SQL (store-locator style)": timed(naive, points[:max(10, queries
                                                                                     // 10)]),
        }
    app.extensions["service_portal.engine"].dispose()
    for name, ms in runs.items():
        rows.append({"what": name, "data": size, "queries": len(ms),
                     "p50 ms": statistics.median(ms), "p95 ms": percentile(ms, 95)})
    ours_p50 = rows[0]["p50 ms"]
    rows[-1]["speed-up"] = f"ours is {rows[-1]['p50 ms'] / ours_p50:.0f}x faster (p50)"
    return rows, int(statistics.median(totals))


#: wrk script: every request a new point within about 4 km of one of the densest centres,
#: the five kinds of search in turn, so that no URL repeats and no cache could answer.
_WORKLOAD = """
centres = {{{centres}}}
kinds = {{{kinds}}}
counter = 0
threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
init = function(args)
  math.randomseed(os.time() + id * 7919)
end
request = function()
  counter = counter + 1
  local c = centres[math.random(#centres)]
  local lat = c[1] + (math.random() - 0.5) * 0.08
  local lon = c[2] + (math.random() - 0.5) * 0.08
  return wrk.format(nil, string.format("/api/v1/shops?lat=%.5f&lon=%.5f%s", lat, lon,
                                       kinds[counter % #kinds + 1]))
end
"""


def workload_script(centres: list[tuple[float, float]], part: str) -> str:
    """A wrk script (its path) for the mixed search workload: a new point near one of
    `centres` for every request, the five kinds of search in turn."""
    kinds = ("", "&brand=byd", f"&part={part}", "&service=hv-battery&sort=best",
             "&open_now=true")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WORKLOAD.format(
            centres=",".join(f"{{{lat:.5f},{lon:.5f}}}" for lat, lon in centres),
            kinds=",".join(f'"{k}"' for k in kinds)))
    return script.name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def over_http(url: str, seconds: int) -> list[dict]:
    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "b" * 16 + "Zq8-3kLp0_vW7xYb2",
           "SEARCH_RATE_LIMIT": "1000000 per minute"}
    server = subprocess.Popen([sys.executable, "-c",
                               "from service_portal.cli import main; main()", "serve",
                               "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        app = create_app({"DATABASE_URL": url})
        with app.test_request_context("/"):
            centres = dense_points(get_session(), 10, random.Random(3))
            part = popular_part(get_session())
        app.extensions["service_portal.engine"].dispose()
        script = workload_script(centres, part)
        rows = []
        for name, args in (("GET /api/v1/brands", [f"{base}/api/v1/brands"]),
                           ("mixed search workload", ["-s", script, base])):
            # Warm-up, not counted: the workers' caches fill as in a server running a while.
            subprocess.run([wrk, "-t2", "-c8", f"-d{max(1, seconds // 2)}s", *args],
                           capture_output=True, check=True)
            out = subprocess.run([wrk, "-t2", "-c8", f"-d{seconds}s", "--latency", *args],
                                 capture_output=True, text=True, check=True).stdout
            rps = float(next(line.split()[1] for line in out.splitlines()
                             if line.startswith("Requests/sec")))
            stripped = [line.strip() for line in out.splitlines()]
            p50 = next(line.split()[1] for line in stripped if line.startswith("50%"))
            p99 = next(line.split()[1] for line in stripped if line.startswith("99%"))
            errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line]
            rows.append({"what": name, "req/s": rps, "p50": p50, "p99": p99,
                         "non-2xx": errors[0] if errors else "0",
                         "command": f"wrk -t2 -c8 -d{seconds}s (serve --workers 2)"})
        rows[1]["vs brands"] = f"{rows[1]['req/s'] / rows[0]['req/s']:.2f}x (target >= 0.5x)"
        os.unlink(script)
        return rows
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def table(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{row[c]:.2f}" if isinstance(row.get(c), float) else str(row.get(c, ""))
                 for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of a seeded database")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    rows, total = in_process(args.db, args.queries)
    print(f"command: python benchmarks/search.py --db {args.db} --queries {args.queries}")
    print(f"median shops within 50 km of the search centres: {total:,}\n")
    print(table(rows))
    if args.http:
        print()
        print(table(over_http(args.db, args.seconds)))


if __name__ == "__main__":
    main()
