"""The search under writes, over HTTP, and print a table (issue: search under writes).

    python benchmarks/mixed.py --db sqlite:////tmp/bench100k.db       # after seed --shops N
    python benchmarks/mixed.py --db postgresql+psycopg://postgres@127.0.0.1/bench100k
    python benchmarks/mixed.py --db ... --seconds 10 --warmup 5 --json   # raw numbers

Before serving, 16 bench dealers (bench-dealer-N@bench.example, made once and reused;
each run issues them new tokens and revokes their previous bench tokens) are put in the
organisations of 16 distinct shops near the densest cities that stock the part the
search mix asks for. Then `service-portal serve --workers 2` is started on the database
(rate limits lifted); the time until it accepts connections and the latency of the very
first search are recorded. wrk (-t2 -c8) runs the search mix of `benchmarks/search.py`
(a new point near one of the densest cities for every request, five kinds of search in
turn) twice in the same run, after a warm-up: A read-only, and B while the 16 dealers
each make about 2 stock writes a second through the dealer API (a sale that takes the
last unit of that part, then a restock, so the shop leaves and rejoins the part's
holders; every tenth write the shop's whole list put back with that line changed) and
an owner opens a case every second. Every write's status and latency is recorded; the
server's access log (one line per request) counts statuses and the server's own time
per phase, so a 5xx is seen whether wrk or a writer got it. At the end each dealer's
shop gets its stock list back as it was found (not counted), so that reruns search for
the same part and pick the same shops.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import dense_points, free_port, popular_part, workload_script  # noqa: E402
from sqlalchemy import text  # noqa: E402

from service_portal import create_app  # noqa: E402
from service_portal.db import get_session, session_scope, utcnow  # noqa: E402

DEALERS = 16
WRITES_PER_SECOND = 2.0  # per dealer
CASES_PER_SECOND = 1.0
REPLACE_EVERY = 10  # every tenth write of a dealer is a list replacement
RESTOCK = 3
UNLIMITED = "1000000 per minute"
TOKEN_NAME = "bench-mixed"
#: What each kind of write answers when all is well; 409 (insufficient stock, a version
#: conflict) is counted on its own, anything else is unexpected.
EXPECTED = {"sale": 200, "restock": 200, "list replacement": 200, "case": 201}
TARGETS = {"ratio": 0.8, "search p99 ms": 250.0, "write max ms": 1000.0,
           "first search ms": 100.0}
#: gunicorn's access line as `serve` configures it: h "m U" s b Mms
_ACCESS = re.compile(r'^\S+ "(\w+) (\S+)" (\d{3}) ')


def prepare(url: str) -> tuple[list[dict], str, list[tuple[float, float]]]:
    """The dealers (token, shop, part, current qty, the shop's stock list), the part the
    mix searches for and the search centres. Idempotent: users are reused (moved to the
    chosen shop's organisation if a previous run put them elsewhere)."""
    from sqlmodel import select

    from service_portal.audit.actors import Actor
    from service_portal.users.models import ApiToken, User
    from service_portal.users.services import create_user, issue_token

    app = create_app({"DATABASE_URL": url})
    with app.test_request_context("/"):
        session = get_session()
        centres = dense_points(session, 10, random.Random(3))
        part = popular_part(session)
        shops: dict[int, str] = {}  # shop id -> organisation slug, in order of centres
        # Shops with a line for the part whatever its qty, so that a rerun picks the same
        # shops even where the last run left them sold out.
        for per_centre in (2, 8, 32):
            for lat, lon in centres:
                for shop_id, org in session.execute(text(
                        "SELECT s.id, o.slug FROM shops s JOIN organizations o ON "
                        "o.id = s.organization_id JOIN stock st ON st.shop_id = s.id "
                        "JOIN parts p ON p.id = st.part_id WHERE p.part_number = :pn "
                        "AND s.active AND s.lat BETWEEN :lat - 0.2 AND :lat + 0.2 "
                        "AND s.lon BETWEEN :lon - 0.3 AND :lon + 0.3 ORDER BY s.id "
                        "LIMIT :n"), {"pn": part, "lat": lat, "lon": lon, "n": per_centre}):
                    if len(shops) < DEALERS:
                        shops.setdefault(shop_id, org)
            if len(shops) >= DEALERS:
                break
        if len(shops) < DEALERS:
            raise SystemExit(f"only {len(shops)} shops near the search centres stock {part}")
    dealers = []
    engine = app.extensions["service_portal.engine"]
    with app.app_context(), session_scope(engine) as session:
        now = utcnow()
        for n, (shop_id, org) in enumerate(shops.items()):
            email = f"bench-dealer-{n}@bench.example"
            user = session.exec(select(User).where(User.email == email)).first()
            if user is None:
                user = create_user(session, email=email, role="dealer", organization=org,
                                   name=f"Bench dealer {n}")
            org_id = session.execute(text("SELECT organization_id FROM shops WHERE id = :id"),
                                     {"id": shop_id}).scalar()
            if (user.organization_id, user.role, user.active) != (org_id, "dealer", True):
                user.organization_id, user.role, user.active = org_id, "dealer", True
                session.add(user)
            for old in session.exec(select(ApiToken).where(
                    ApiToken.user_id == user.id, ApiToken.name == TOKEN_NAME,
                    ApiToken.revoked_at.is_(None))):
                old.revoked_at = now
                session.add(old)
            session.flush()
            lines = [dict(r._mapping) for r in session.execute(text(
                "SELECT p.part_number, st.qty, st.price, st.currency FROM stock st JOIN parts "
                "p ON p.id = st.part_id WHERE st.shop_id = :id ORDER BY p.part_number"),
                {"id": shop_id})]
            dealers.append({"email": email, "shop": shop_id, "org": org, "part": part,
                            "token": issue_token(session, email=email, name=TOKEN_NAME,
                                                 actor=Actor.command_line()),
                            "qty": next(r["qty"] for r in lines if r["part_number"] == part),
                            "lines": [{"part_number": r["part_number"], "qty": r["qty"],
                                       "price": f"{Decimal(str(r['price'] or 0)):.2f}",
                                       "currency": r["currency"]} for r in lines]})
    engine.dispose()
    return dealers, part, centres


class Writers:
    """The dealers' and the owners' writes, each on a thread of its own, until stopped."""

    def __init__(self, port: int, dealers: list[dict], centres) -> None:
        self.port, self.dealers, self.centres = port, dealers, centres
        self.stop = threading.Event()
        self.results: list[tuple[str, int, float, str]] = []  # (kind, status, ms, error)
        self.lock = threading.Lock()
        self.started = self.stopped = 0.0

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._dealer, args=(d, i), daemon=True)
                        for i, d in enumerate(self.dealers)]
        self.threads.append(threading.Thread(target=self._owners, daemon=True))
        self.started = time.perf_counter()
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
        self.stopped = time.perf_counter()
        # Each shop's list back as it was found (not counted), so that the next run finds
        # the same part the most stocked and picks the same shops.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for dealer in self.dealers:
            self._call(conn, "restore", "PUT", f"/api/v1/dealer/shops/{dealer['shop']}/stock",
                       {"mode": "replace", "items": dealer["lines"]}, dealer["token"],
                       record=False)
        conn.close()

    def _call(self, conn, kind: str, method: str, path: str, body: dict | None = None,
              token: str | None = None, record: bool = True) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=headers)
            response = conn.getresponse()
            status, payload = response.status, response.read()
        except OSError:  # a timeout or a dropped connection: counted as status 0
            conn.close()
            status, payload = 0, b""
        ms = (time.perf_counter() - started) * 1000
        if record:
            error = ""
            if status >= 400:
                try:
                    error = json.loads(payload).get("error", {}).get("code", "")
                except (ValueError, AttributeError):
                    error = payload[:80].decode(errors="replace")
            with self.lock:
                self.results.append((kind, status, ms, error))
        return status, payload

    def _dealer(self, dealer: dict, n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        path = f"/api/v1/dealer/shops/{dealer['shop']}/stock"
        line = f"{path}/{dealer['part']}"
        step = 0
        self.stop.wait(n / DEALERS / WRITES_PER_SECOND)  # spread the dealers over a period
        while not self.stop.is_set():
            started = time.perf_counter()
            if step % REPLACE_EVERY == REPLACE_EVERY - 1:
                # The shop's whole list put back with the part's line changed.
                qty = 4 + step % 3
                items = [{**item, "qty": qty} if item["part_number"] == dealer["part"]
                         else item for item in dealer["lines"]]
                status, _ = self._call(conn, "list replacement", "PUT", path,
                                       {"mode": "replace", "items": items}, dealer["token"])
                if status == 200:
                    dealer["qty"] = qty
            else:
                kind, delta = (("sale", -dealer["qty"]) if dealer["qty"] > 0
                               else ("restock", RESTOCK))
                status, payload = self._call(conn, kind, "PATCH", line, {"qty_delta": delta},
                                             dealer["token"])
                if status == 200:
                    dealer["qty"] = json.loads(payload)["qty"]
                elif status == 409:  # not what we thought: read the line again
                    status, payload = self._call(conn, "read", "GET", path, None,
                                                 dealer["token"], record=False)
                    if status == 200:
                        dealer["qty"] = next(r["qty"] for r in json.loads(payload)["results"]
                                             if r["part_number"] == dealer["part"])
            step += 1
            self.stop.wait(max(0.0, 1 / WRITES_PER_SECOND - (time.perf_counter() - started)))
        conn.close()

    def _owners(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        rng = random.Random(5)
        count = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            body = {"name": "Bench Owner", "email": "owner@bench.example", "country": "DE",
                    "model": "byd-atto-3", "year": 2023, "service": "hv-battery",
                    "consent": True,
                    "description": "Charging stops at 80 percent since yesterday."}
            if count % 2:  # every other case names a shop, the others a place
                body["shop_id"] = rng.choice(self.dealers)["shop"]
            else:
                lat, lon = rng.choice(self.centres)
                body["place"] = f"{lat:.4f},{lon:.4f}"
            self._call(conn, "case", "POST", "/api/v1/cases", body)
            count += 1
            self.stop.wait(max(0.0, 1 / CASES_PER_SECOND - (time.perf_counter() - started)))
        conn.close()


def wrk(base: str, script: str, seconds: int) -> dict:
    """One wrk run of the search mix; a generous --timeout so that slow answers are
    measured rather than dropped as socket errors."""
    out = subprocess.run([shutil.which("wrk"), "-t2", "-c8", f"-d{seconds}s", "--timeout",
                          "10s", "--latency", "-s", script, base], capture_output=True,
                         text=True, check=True).stdout
    lines = [line.strip() for line in out.splitlines()]
    errors = next((line for line in lines if line.startswith("Socket errors")), "")
    return {"req/s": float(next(line.split()[1] for line in lines
                                if line.startswith("Requests/sec"))),
            "requests": int(next(line.split()[0] for line in lines
                                 if line.endswith("read") and "requests in" in line)),
            "p50 ms": _ms(next(line.split()[1] for line in lines if line.startswith("50%"))),
            "p99 ms": _ms(next(line.split()[1] for line in lines if line.startswith("99%"))),
            "max ms": _ms(next(line.split()[3] for line in lines
                               if line.startswith("Latency") and "Distribution" not in line)),
            "non-2xx": next((int(line.split()[-1]) for line in lines if "Non-2xx" in line), 0),
            "socket errors": sum(int(n) for n in re.findall(r"\d+", errors))}


class Server:
    """`service-portal serve --workers 2` with its output (access and error log) in a
    file, so that statuses can be counted per phase by the file's offsets."""

    def __init__(self, url: str) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+b", prefix="mixed-serve-", suffix=".log",
                                               delete=False)
        env = {**os.environ, "DATABASE_URL": url,
               "SECRET_KEY": "m" * 16 + "Zq8-3kLp0_vW7xYb2-Hn4t",
               "SEARCH_RATE_LIMIT": UNLIMITED, "CASE_RATE_LIMIT": UNLIMITED,
               "TOKEN_FAILURE_LIMIT": UNLIMITED, "LOGIN_RATE_LIMIT": UNLIMITED,
               "CASE_LOOKUP_RATE_LIMIT": UNLIMITED}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from service_portal.cli import main; main()", "serve",
             "--port", str(self.port), "--workers", "2"], env=env, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_listening(self, timeout: float = 300) -> float:
        while time.perf_counter() - self.started < timeout:
            if self.process.poll() is not None:
                raise SystemExit("serve exited before listening:\n" + self.text()[-3000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.01)
        raise SystemExit(f"serve did not listen within {timeout:.0f} s")

    def offset(self) -> int:
        return os.path.getsize(self.log.name)

    def text(self, start: int = 0, end: int | None = None) -> str:
        with open(self.log.name, "rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(end - start)
        return data.decode(errors="replace")

    def stop(self) -> int | None:
        """SIGTERM to the server's process group (gunicorn stops gracefully)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def statuses(log: str) -> dict[str, Counter]:
    """Statuses in an access-log slice: searches (GET /api/v1/shops) and everything."""
    out = {"search": Counter(), "all": Counter()}
    for kind, status, _ms in access(log):
        out["all"][status] += 1
        if kind == "search":
            out["search"][status] += 1
    return out


def access(log: str) -> list[tuple[str, int, float]]:
    """(kind, status, the server's own ms) of each access line; kinds: search, stock
    PATCH (a sale or a restock), list replacement, case, other."""
    out = []
    for line in log.splitlines():
        match = _ACCESS.match(line)
        if match:
            method, path, status = match.groups()
            kind = {("GET", True): "search"}.get((method, path == "/api/v1/shops"))
            if kind is None and path.startswith("/api/v1/dealer/shops/"):
                kind = {"PATCH": "stock PATCH", "PUT": "list replacement"}.get(method)
            if kind is None and (method, path) == ("POST", "/api/v1/cases"):
                kind = "case"
            out.append((kind or "other", int(status),
                        float(line.rsplit(" ", 1)[-1].removesuffix("ms"))))
    return out


def timings(entries: list[tuple[str, int, float]]) -> dict[str, dict]:
    """Per kind of request: how many, and the server's own p50 / p99 / max ms."""
    out = {}
    for kind in sorted({k for k, _s, _ms in entries}):
        ms = [m for k, _s, m in entries if k == kind]
        out[kind] = {"count": len(ms), "p50 ms": statistics.median(ms),
                     "p99 ms": _percentile(ms, 99), "max ms": max(ms)}
    return out


def problems(log: str) -> list[str]:
    """Error-log lines and 5xx access lines."""
    return [line for line in log.splitlines()
            if (m := _ACCESS.match(line)) and m.group(3).startswith("5")
            or not _ACCESS.match(line) and re.search(
                r"\[(ERROR|CRITICAL)\]|Traceback|WORKER TIMEOUT|Exception|Error:", line)]


def _served_ms(log: str) -> float | None:
    """The server's own time for the first request in its access log (the %(M)s field)."""
    for line in log.splitlines():
        if _ACCESS.match(line):
            return float(line.rsplit(" ", 1)[-1].removesuffix("ms"))
    return None


def first_search(port: int, lat: float, lon: float, part: str) -> tuple[int, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", f"/api/v1/shops?lat={lat:.5f}&lon={lon:.5f}&part={part}")
        response = conn.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        conn.close()
    return status, (time.perf_counter() - started) * 1000


def run(args) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    dealers, part, centres = prepare(args.db)
    server = Server(args.db)
    result: dict = {"db": args.db, "seconds": args.seconds, "warmup": args.warmup,
                    "part": part, "dealers": [{k: d[k] for k in ("email", "shop", "org")}
                                              for d in dealers]}
    try:
        result["listening s"] = server.wait_listening()
        lat, lon = centres[0]
        status, ms = first_search(server.port, lat, lon, part)
        result["first search"] = {"status": status, "ms": ms}
        # Then two at once, so that both workers answer one soon after start (info).
        with ThreadPoolExecutor(2) as pool:
            pair = list(pool.map(lambda c: first_search(server.port, *c, part), centres[1:3]))
        result["next two searches at once"] = [{"status": s, "ms": m} for s, m in pair]
        script = workload_script(centres, part)
        base = f"http://127.0.0.1:{server.port}"
        if args.warmup:
            wrk(base, script, args.warmup)
        mark = server.offset()
        read_only = wrk(base, script, args.seconds)
        read_only["server"] = statuses(server.text(mark, server.offset()))
        read_only["server ms"] = timings(access(server.text(mark, server.offset())))
        writers = Writers(server.port, dealers, centres)
        writers.start()
        time.sleep(1)  # the writers reach their pace
        mark = server.offset()
        under_writes = wrk(base, script, args.seconds)
        under_writes["server"] = statuses(server.text(mark, server.offset()))
        under_writes["server ms"] = timings(access(server.text(mark, server.offset())))
        writers.finish()
        os.unlink(script)
    finally:
        result["server exit"] = server.stop()
    log = server.text()
    result["first search"]["server ms"] = _served_ms(log)  # logged after it answered
    result["phases"] = {"read-only": read_only, "under writes": under_writes}
    result["writes"] = writers.results
    result["writes window s"] = writers.stopped - writers.started
    result["server problems"] = problems(log)
    result["server statuses"] = statuses(log)["all"]
    result["server log"] = server.log.name
    return result


def summarize(result: dict) -> dict:
    """The figures the targets are judged on."""
    a, b = result["phases"]["read-only"], result["phases"]["under writes"]
    writes = result["writes"]
    ms = [w[2] for w in writes]
    by_status = Counter(f"{kind} {status}" + (f" {error}" if error else "")
                        for kind, status, _ms, error in writes)
    conflicts = sum(1 for _k, status, _ms, _e in writes if status == 409)
    unexpected = sum(1 for kind, status, _ms, _e in writes
                     if status != EXPECTED[kind] and status != 409)
    server_5xx = sum(n for status, n in result["server statuses"].items() if status >= 500)
    client_5xx = sum(1 for _k, status, _ms, _e in writes if status >= 500 or status == 0)
    return {
        "ratio": b["req/s"] / max(a["req/s"], 1e-9),
        "search p99 ms": b["p99 ms"],
        "writes": len(writes),
        "writes/s": len(writes) / max(result["writes window s"], 1e-9),
        "write p50 ms": statistics.median(ms) if ms else 0.0,
        "write p99 ms": _percentile(ms, 99) if ms else 0.0,
        "write max ms": max(ms) if ms else 0.0,
        "writes by kind and status": dict(sorted(by_status.items())),
        "write 409s": conflicts,
        "write unexpected statuses": unexpected,
        "5xx (server log)": server_5xx,
        "5xx or no answer (writers)": client_5xx,
        "search socket errors": a["socket errors"] + b["socket errors"],
        "first search ms": result["first search"]["ms"],
    }


def report(result: dict, summary: dict) -> str:
    out = [f"command: python benchmarks/mixed.py --db {result['db']} --seconds "
           f"{result['seconds']} --warmup {result['warmup']}",
           f"part searched for and written: {result['part']}; dealers' shops: "
           + ", ".join(str(d["shop"]) for d in result["dealers"])
           + f" (organisations: {', '.join(sorted({d['org'] for d in result['dealers']}))})",
           f"serve accepted connections after {result['listening s']:.2f} s; first search: "
           f"{result['first search']['status']} in {result['first search']['ms']:.1f} ms "
           f"(the server's own time {result['first search']['server ms']} ms; the rest is "
           "waiting for a worker); the next two at once: "
           + ", ".join(f"{s['status']} in {s['ms']:.1f} ms"
                       for s in result["next two searches at once"]),
           "",
           "| phase (wrk -t2 -c8, search mix) | search req/s | p50 | p99 | max | non-2xx "
           "(wrk) | socket errors | search statuses (server log) |",
           "|---|---|---|---|---|---|---|---|"]
    for name, row in result["phases"].items():
        seen = ", ".join(f"{s}: {n}" for s, n in sorted(row["server"]["search"].items()))
        out.append(f"| {name} | {row['req/s']:,.0f} | {row['p50 ms']:.1f} ms | "
                   f"{row['p99 ms']:.1f} ms | {row['max ms']:.1f} ms | {row['non-2xx']} | "
                   f"{row['socket errors']} | {seen} |")
    out += ["", f"under writes / read-only: {summary['ratio']:.2f}x", "",
            "| writes | count | p50 | p99 | max |", "|---|---|---|---|---|"]
    kinds = sorted({w[0] for w in result["writes"]})
    for kind in [*kinds, None]:
        ms = [w[2] for w in result["writes"] if kind is None or w[0] == kind]
        label = kind or "all ({:.1f}/s)".format(summary["writes/s"])
        if ms:
            out.append(f"| {label} | {len(ms)} | "
                       f"{statistics.median(ms):.1f} ms | {_percentile(ms, 99):.1f} ms | "
                       f"{max(ms):.1f} ms |")
    out += ["", "| server's own time (access log, during the wrk phase) | count | p50 | p99 | "
            "max |", "|---|---|---|---|---|"]
    for name, row in result["phases"].items():
        for kind, t in row["server ms"].items():
            out.append(f"| {name}: {kind} | {t['count']} | {t['p50 ms']:.0f} ms | "
                       f"{t['p99 ms']:.0f} ms | {t['max ms']:.0f} ms |")
    out += ["", "writes by kind and status: " + ", ".join(
        f"{k}: {n}" for k, n in summary["writes by kind and status"].items()),
        f"409s: {summary['write 409s']}; other unexpected statuses: "
        f"{summary['write unexpected statuses']}",
        "all requests by status (server log): " + ", ".join(
            f"{s}: {n}" for s, n in sorted(result["server statuses"].items())),
        f"server stopped with exit code {result['server exit']}; log: {result['server log']}"]
    if result["server problems"]:
        out.append(f"server 5xx/error lines ({len(result['server problems'])}, first 10):")
        out += ["    " + line for line in result["server problems"][:10]]
    out += ["", "| target | measured | result |", "|---|---|---|"]
    for name, measured, ok in checks(summary):
        out.append(f"| {name} | {measured} | {'PASS' if ok else 'FAIL'} |")
    return "\n".join(out)


def checks(summary: dict) -> list[tuple[str, str, bool]]:
    fivexx = summary["5xx (server log)"] + summary["5xx or no answer (writers)"]
    return [
        ("search req/s under writes >= 0.8x read-only", f"{summary['ratio']:.2f}x",
         summary["ratio"] >= TARGETS["ratio"]),
        ("search p99 under writes <= 250 ms", f"{summary['search p99 ms']:.1f} ms",
         summary["search p99 ms"] <= TARGETS["search p99 ms"]
         and summary["search socket errors"] == 0),
        ("every write answers within 1 s", f"max {summary['write max ms']:.1f} ms",
         summary["writes"] > 0 and summary["write max ms"] <= TARGETS["write max ms"]),
        ("no 5xx at all", f"{summary['5xx (server log)']} in the server log, "
         f"{summary['5xx or no answer (writers)']} 5xx or no answer to writers, "
         f"{summary['search socket errors']} wrk socket errors",
         fivexx == 0 and summary["search socket errors"] == 0),
        ("first search after serve <= 100 ms", f"{summary['first search ms']:.1f} ms",
         summary["first search ms"] <= TARGETS["first search ms"]),
    ]


def _ms(value: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("m", 60000.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[:-len(unit)]) * factor
    return float(value)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of a seeded database")
    parser.add_argument("--seconds", type=int, default=10, help="each measured wrk phase")
    parser.add_argument("--warmup", type=int, default=5, help="wrk warm-up, not counted")
    parser.add_argument("--json", action="store_true", help="print the raw numbers as JSON")
    args = parser.parse_args()
    result = run(args)
    summary = summarize(result)
    if args.json:
        result["writes"] = [{"kind": k, "status": s, "ms": round(m, 2), "error": e}
                            for k, s, m, e in result["writes"]]
        result["summary"] = summary
        result["checks"] = {name: {"measured": measured, "pass": ok}
                            for name, measured, ok in checks(summary)}
        print(json.dumps(result, indent=2, default=str))
    else:
        print(report(result, summary))


if __name__ == "__main__":
    main()
