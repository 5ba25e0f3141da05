"""The search under writes, over HTTP, and print a table (issue: search under writes).

    python benchmarks/mixed.py --db sqlite:////tmp/bench100k.db       # after seed --shops N
    python benchmarks/mixed.py --db postgresql+psycopg://postgres@127.0.0.1/bench100k

`service-portal serve --workers 2` is started on the database; the time from start until
it listens and the latency of the very first search are recorded. Then wrk runs the
search mix of `benchmarks/search.py` (a new point near one of the densest cities for
every request, five kinds of search in turn) twice in the same run: read-only, and while
16 dealers each make about 2 stock writes a second through the dealer API (a sale that
takes the last unit of the part the mix searches for, then a restock, so shops leave and
rejoin its holders; every tenth write a list replacement) and an owner opens a case every
second. Every write's status and latency is recorded. The dealers are bench users made
in the database before the server starts (idempotent).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import dense_points, free_port, popular_part, workload_script  # noqa: E402
from sqlalchemy import text  # noqa: E402

from service_portal import create_app  # noqa: E402
from service_portal.db import get_session, session_scope  # noqa: E402

DEALERS = 16
WRITES_PER_SECOND = 2.0
CASES_PER_SECOND = 1.0
UNLIMITED = "1000000 per minute"


def prepare(url: str) -> tuple[list[dict], str, list[tuple[float, float]]]:
    """Dealers (token, shop id, part number, qty) at shops near the search centres that
    hold the mix's part; the part; the centres."""
    from sqlmodel import select

    from service_portal.users.models import User
    from service_portal.users.services import create_user, issue_token

    app = create_app({"DATABASE_URL": url})
    with app.test_request_context("/"):
        session = get_session()
        centres = dense_points(session, 10, random.Random(3))
        part = popular_part(session)
        rows = []
        for lat, lon in centres:
            rows += session.execute(text(
                "SELECT s.id, o.slug, st.qty FROM shops s JOIN organizations o ON "
                "o.id = s.organization_id JOIN stock st ON st.shop_id = s.id JOIN parts p "
                "ON p.id = st.part_id WHERE p.part_number = :pn AND s.active AND st.qty > 0 "
                "AND s.lat BETWEEN :lat - 0.2 AND :lat + 0.2 AND s.lon BETWEEN :lon - 0.3 "
                "AND :lon + 0.3 ORDER BY s.id LIMIT 2"),
                {"pn": part, "lat": lat, "lon": lon}).all()
    dealers = []
    with app.app_context(), session_scope(app.extensions["service_portal.engine"]) as session:
        for n, (shop_id, org, qty) in enumerate(rows[:DEALERS]):
            email = f"bench-dealer-{n}@bench.example"
            if session.exec(select(User).where(User.email == email)).first() is None:
                create_user(session, email=email, role="dealer", organization=org,
                                   name=f"Bench dealer {n}")
            dealers.append({"token": issue_token(session, email=email, name="bench"),
                            "shop": shop_id, "part": part, "qty": qty})
    app.extensions["service_portal.engine"].dispose()
    return dealers, part, centres


class Writers:
    """The dealers' and owners' writes, each on a thread of its own, until stopped."""

    def __init__(self, port: int, dealers: list[dict], centres) -> None:
        self.port, self.dealers, self.centres = port, dealers, centres
        self.stop = threading.Event()
        self.results: list[tuple[str, int, float]] = []  # (kind, status, ms)
        self.lock = threading.Lock()

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._dealer, args=(d, i), daemon=True)
                   for i, d in enumerate(self.dealers)]
        threads.append(threading.Thread(target=self._owners, daemon=True))
        for thread in threads:
            thread.start()
        return threads

    def _call(self, conn, kind: str, method: str, path: str, body: dict, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            conn.request(method, path, body=json.dumps(body), headers=headers)
            response = conn.getresponse()
            status, payload = response.status, response.read()
        except OSError:  # a timeout or a dropped connection: counted as status 0
            conn.close()
            status, payload = 0, b""
        ms = (time.perf_counter() - started) * 1000
        with self.lock:
            self.results.append((kind, status, ms))
        return status, payload

    def _dealer(self, dealer: dict, n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        path = f"/api/v1/dealer/shops/{dealer['shop']}/stock"
        step = 0
        time.sleep(n / DEALERS / WRITES_PER_SECOND)  # spread the dealers over a period
        while not self.stop.is_set():
            started = time.perf_counter()
            if step % 10 == 9:
                self._call(conn, "list replacement", "PUT", path, {"mode": "merge", "items": [
                    {"part_number": dealer["part"], "qty": 4, "price": "49.90",
                     "currency": "EUR"}]}, dealer["token"])
                dealer["qty"] = 4
            elif dealer["qty"] > 0:  # a sale that takes the last unit
                status, payload = self._call(conn, "sale", "PATCH",
                                             f"{path}/{dealer['part']}",
                                             {"qty_delta": -dealer["qty"]}, dealer["token"])
                if status == 200:
                    dealer["qty"] = json.loads(payload)["qty"]
            else:
                status, payload = self._call(conn, "restock", "PATCH",
                                             f"{path}/{dealer['part']}", {"qty_delta": 3},
                                             dealer["token"])
                if status == 200:
                    dealer["qty"] = json.loads(payload)["qty"]
            step += 1
            self.stop.wait(max(0.0, 1 / WRITES_PER_SECOND - (time.perf_counter() - started)))
        conn.close()

    def _owners(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        rng = random.Random(5)
        while not self.stop.is_set():
            started = time.perf_counter()
            lat, lon = rng.choice(self.centres)
            self._call(conn, "case", "POST", "/api/v1/cases", {
                "name": "Bench Owner", "email": "owner@bench.example", "country": "DE",
                "model": "byd-atto-3", "year": 2023, "service": "hv-battery",
                "place": f"{lat:.4f},{lon:.4f}", "consent": True,
                "description": "Charging stops at 80 percent since yesterday."})
            self.stop.wait(max(0.0, 1 / CASES_PER_SECOND - (time.perf_counter() - started)))
        conn.close()


def wrk(base: str, script: str, seconds: int) -> dict:
    out = subprocess.run([shutil.which("wrk"), "-t2", "-c8", f"-d{seconds}s", "--latency",
                          "-s", script, base], capture_output=True, text=True,
                         check=True).stdout
    lines = [line.strip() for line in out.splitlines()]
    non_2xx = next((int(line.split()[-1]) for line in lines if "Non-2xx" in line), 0)
    return {"req/s": float(next(line.split()[1] for line in lines
                                if line.startswith("Requests/sec"))),
            "p50": next(line.split()[1] for line in lines if line.startswith("50%")),
            "p99": next(line.split()[1] for line in lines if line.startswith("99%")),
            "non-2xx": non_2xx}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of a seeded database")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    dealers, part, centres = prepare(args.db)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": args.db, "SECRET_KEY": "m" * 16 + "Zq8-3kLp0_vW7xYb2",
           "SEARCH_RATE_LIMIT": UNLIMITED, "CASE_RATE_LIMIT": UNLIMITED,
           "TOKEN_FAILURE_LIMIT": UNLIMITED}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-c", "from service_portal.cli import main; "
                               "main()", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        listening = time.perf_counter() - started
        lat, lon = centres[0]
        first_started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/api/v1/shops?lat={lat:.4f}&lon={lon:.4f}&part={part}")
        first_status = conn.getresponse().status
        first_ms = (time.perf_counter() - first_started) * 1000
        conn.close()
        script = workload_script(centres, part)
        wrk(base, script, args.warmup)
        read_only = wrk(base, script, args.seconds)
        writers = Writers(port, dealers, centres)
        threads = writers.run()
        time.sleep(1)  # the writers reach their pace
        under_writes = wrk(base, script, args.seconds)
        writers.stop.set()
        for thread in threads:
            thread.join(30)
        os.unlink(script)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _out, err = server.communicate(timeout=30)
    report(args, listening, first_status, first_ms, read_only, under_writes, writers, err)


def report(args, listening, first_status, first_ms, read_only, under_writes, writers,
           err) -> None:
    ratio = under_writes["req/s"] / max(read_only["req/s"], 1e-9)
    write_ms = [ms for _kind, _status, ms in writers.results]
    statuses = Counter(f"{kind} {status}" for kind, status, _ms in writers.results)
    server_errors = sum(1 for _k, status, _ms in writers.results
                        if status >= 500 or status == 0)
    p99_ms = _ms(under_writes["p99"])
    print(f"command: python benchmarks/mixed.py --db {args.db} --seconds {args.seconds}")
    print(f"serve listened after {listening:.1f} s; first search: {first_status} in "
          f"{first_ms:.1f} ms (target <= 100 ms)\n")
    print("| search mix (wrk -t2 -c8) | req/s | p50 | p99 | non-2xx |\n|---|---|---|---|---|")
    for name, row in (("read-only", read_only), ("under writes", under_writes)):
        print(f"| {name} | {row['req/s']:,.0f} | {row['p50']} | {row['p99']} | "
              f"{row['non-2xx']} |")
    print(f"\nunder writes / read-only: {ratio:.2f}x (target >= 0.8x); p99 under writes "
          f"{p99_ms:.1f} ms (target <= 250 ms)")
    print(f"writes: {len(write_ms)} ({len(write_ms) / args.seconds:.1f}/s), p50 "
          f"{statistics.median(write_ms):.1f} ms, p99 {_percentile(write_ms, 99):.1f} ms, "
          f"max {max(write_ms):.1f} ms (target: every write within 1,000 ms)")
    print("by kind and status: " + ", ".join(f"{k}: {n}" for k, n in sorted(statuses.items())))
    failures = [line for line in err.decode(errors="replace").splitlines()
                if '" 5' in line or "Traceback" in line or "ERROR" in line]
    print(f"5xx or no answer from writes: {server_errors}; server log 5xx/error lines: "
          f"{len(failures)}")
    for line in failures[:10]:
        print("  " + line)
    checks = {"ratio >= 0.8": ratio >= 0.8, "p99 <= 250 ms": p99_ms <= 250,
              "writes within 1 s": max(write_ms) <= 1000,
              "no 5xx": server_errors == 0 and not failures
              and read_only["non-2xx"] == under_writes["non-2xx"] == 0,
              "first search <= 100 ms": first_ms <= 100}
    print("\n" + ", ".join(f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in checks.items()))


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * factor
    return float(text)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
