"""Serving through faults: the database down at start and during a worker restart, slow
clients, Redis lost and back, a statement cut short. Real servers throughout: `serve`
with its workers, PostgreSQL behind a TCP relay the test opens and closes, a Redis on a
port of its own that the test starts and kills."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import suppress

import psycopg
import pytest
from sqlalchemy import text

from service_portal import create_app
from service_portal.db import make_engine, writer
from service_portal.migrate import upgrade_to_head
from tests.test_cli_commands import _free_port

pytestmark = pytest.mark.slow

SECRET = "Zq8-3kLp0_vW7xYb2nM4cR6tA9sD1fGh"
PG_ADMIN_URL = os.environ.get("PORTAL_TEST_PG_ADMIN_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")


class Relay:
    """A TCP relay to `target` on a port of its own, opened and closed at will: closed,
    connections are refused and those open are cut, as when a database host goes down."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, _free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for sock in ([listener] if listener else []) + sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def request(url: str, *, timeout: float = 10) -> tuple[int, dict, bytes, float]:
    """Status, headers, body and seconds taken of a GET."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body, status, headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        body, status, headers = error.read(), error.code, dict(error.headers)
    return status, headers, body, time.perf_counter() - started


def start_serve(database_url: str, tmp_path, **env) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    with (tmp_path / f"serve-{port}.log").open("w") as log:  # the server keeps its own
        process = subprocess.Popen(
            [sys.executable, "-c", "from service_portal.cli import main; main()", "serve",
             "--port", str(port), "--workers", "2"],
            env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET, **env},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited with {process.returncode}"
        with suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, base
        time.sleep(0.2)
    raise AssertionError("serve did not listen")


def stop(process: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def until(predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


@pytest.fixture
def pg_database():
    """A PostgreSQL database of this test's own, migrated, dropped at the end (the fault
    is a server going away, which only a database server can do)."""
    name = f"portal_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    engine = make_engine(f"{url}/{name}")
    upgrade_to_head(engine)
    engine.dispose()
    yield url, name
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_serve_starts_with_the_database_down_and_survives_a_worker_restart_while_it_is(
        pg_database, tmp_path):
    url, name = pg_database
    relay = Relay(("127.0.0.1", 5432))  # closed: the database host is down
    process, base = start_serve(f"{url.split('@')[0]}@127.0.0.1:{relay.port}/{name}", tmp_path)
    try:
        status, headers, body, seconds = request(f"{base}/healthz")
        assert status == 503 and json.loads(body) == {"status": "unavailable"}
        assert 1 <= int(headers["Retry-After"]) <= 10 and seconds < 5
        status, headers, body, _ = request(f"{base}/api/v1/shops?lat=50.11&lon=8.68")
        assert status == 503 and json.loads(body)["error"]["code"] == "busy"
        assert "Retry-After" in headers

        relay.open()  # the database is back
        assert until(lambda: request(f"{base}/healthz")[0] == 200)
        status, _h, body, _s = request(f"{base}/api/v1/shops?lat=50.11&lon=8.68")
        assert status == 200 and json.loads(body)["total"] == 0

        relay.close()  # down again, and a worker restarts meanwhile
        workers = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                                 text=True).stdout.split()
        assert len(workers) == 2
        os.kill(int(workers[0]), signal.SIGKILL)
        assert until(lambda: len(subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
        ).stdout.split()) == 2 and workers[0] not in subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout)
        assert process.poll() is None, "the server went down with its database"
        assert all(request(f"{base}/healthz")[0] == 503 for _ in range(4))

        relay.open()
        assert until(lambda: all(request(f"{base}/healthz")[0] == 200 for _ in range(4)))
        assert request(f"{base}/api/v1/shops?lat=50.11&lon=8.68")[0] == 200
    finally:
        stop(process)
        relay.close()
    log = (tmp_path / f"serve-{base.rsplit(':', 1)[1]}.log").read_text()
    assert '" 503 ' in log and '" 500 ' not in log  # the access log: no request failed


def test_slow_clients_do_not_pin_the_workers(database_url, tmp_path):
    """Clients that trickle their headers (a line a second) hold a thread each, not a
    worker: the health check and a search answer at once meanwhile."""
    process, base = start_serve(database_url, tmp_path)
    port = int(base.rsplit(":", 1)[1])
    slow = []
    try:
        assert until(lambda: request(f"{base}/healthz")[0] == 200)
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            slow.append(sock)
        for second in range(4):
            for number, sock in enumerate(slow):
                sock.sendall(f"X-Slow-{number}: {second}\r\n".encode())
            status, _h, _b, seconds = request(f"{base}/healthz", timeout=5)
            assert status == 200 and seconds < 1.0
            status, _h, _b, seconds = request(f"{base}/api/v1/shops?lat=50.11&lon=8.68",
                                              timeout=5)
            assert status == 200 and seconds < 1.0
            time.sleep(1)
        for sock in slow:  # they finish, and are answered too
            sock.sendall(b"\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 200")
    finally:
        for sock in slow:
            sock.close()
        stop(process)


def test_a_request_head_that_takes_too_long_is_cut_off(database_url, tmp_path):
    """More trickling clients than there are threads (2 workers x 4): each is closed
    when its request head misses the deadline, and the server answers again."""
    process, base = start_serve(database_url, tmp_path, REQUEST_HEAD_TIMEOUT_S="2")
    port = int(base.rsplit(":", 1)[1])
    slow = []
    try:
        assert until(lambda: request(f"{base}/healthz")[0] == 200)
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            slow.append(sock)
        started = time.monotonic()
        for second in range(4):  # a header line a second, never the end of the head
            for number, sock in enumerate(slow):
                with suppress(OSError):
                    sock.sendall(f"X-Slow-{number}: {second}\r\n".encode())
            time.sleep(1)
        status, _h, _b, seconds = request(f"{base}/healthz", timeout=10)
        assert status == 200 and seconds < 1.0
        for sock in slow:  # closed by the server, without an answer
            sock.settimeout(5)
            try:
                assert sock.recv(64) == b""
            except ConnectionResetError:
                pass
        assert time.monotonic() - started < 10
    finally:
        for sock in slow:
            sock.close()
        stop(process)
    log = (tmp_path / f"serve-{port}.log").read_text()
    assert "request head took longer than 2.0 s" in log and "Traceback" not in log


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of the test's own on a free port; `.kill()` and `.start()` it at will."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed (Debian package redis-server)"

    class Server:
        port = _free_port()
        process: subprocess.Popen | None = None

        def start(self) -> None:
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert until(lambda: _answers(self.port), 10)

        def kill(self) -> None:
            self.process.kill()
            self.process.wait()

    server = Server()
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


def _answers(port: int) -> bool:
    with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


@pytest.fixture
def own_app():
    """Apps made by a test with settings of its own, their connections closed after."""
    apps = []

    def build(config: dict):
        apps.append(create_app({"SECRET_KEY": SECRET, "TESTING": True, **config}))
        return apps[-1]
    yield build
    for app in apps:
        app.extensions["service_portal.engine"].dispose()


def test_rate_limits_fall_back_to_memory_while_redis_is_away(database_url, redis_server,
                                                             make, own_app):
    app = own_app({"DATABASE_URL": database_url,
                      "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_server.port}",
                      "SEARCH_RATE_LIMIT": "1000 per minute",
                      "LOGIN_RATE_LIMIT": "3 per 10 minutes"})
    client = app.test_client()
    staff = {"Authorization": f"Bearer {make.token(make.user('staff'))}"}
    dealer = {"Authorization": f"Bearer {make.token(make.user('dealer', make.org('nordic')))}"}
    make.model(make.brand("byd"), "byd-atto-3", year_from=2022)
    make.service("hv-battery")
    near = {"lat": "50.11", "lon": "8.68"}

    def detail() -> dict:
        return client.get("/healthz?detail=1", headers=staff).json["rate_limits"]

    assert client.get("/api/v1/shops", query_string=near).status_code == 200
    assert detail() == {"storage": "redis", "reachable": True, "counting_in_memory": False}

    redis_server.kill()
    assert client.get("/api/v1/shops", query_string=near).status_code == 200
    assert client.get("/healthz").status_code == 200  # the database is what it reports on
    assert detail() == {"storage": "redis", "reachable": False, "counting_in_memory": True}
    assert client.get("/api/v1/dealer/shops", headers=dealer).status_code == 200
    assert client.get("/api/v1/dealer/shops", headers={"Authorization": "Bearer spt_wrong"}
                      ).status_code == 401
    case = client.post("/api/v1/cases", json={
        "name": "Ingrid Example", "email": "ingrid@mail.example", "model": "byd-atto-3",
        "year": 2023, "country": "DE", "service": "hv-battery", "place": "Frankfurt am Main",
        "description": "Battery warning light after charging.", "consent": True})
    assert case.status_code == 201, case.json
    # The limits still hold, counted in this process's memory.
    csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                     client.get("/login").text).group(1)
    logins = [client.post("/login", data={"email": "x@mail.example", "password": "wrong",
                                          "csrf_token": csrf}).status_code for _ in range(5)]
    assert 500 not in logins and 429 in logins

    redis_server.start()
    assert until(lambda: client.get("/api/v1/shops", query_string=near).status_code == 200
                 and not detail()["counting_in_memory"], 40)
    assert detail()["reachable"] is True


def test_a_limit_answer_alone_carries_retry_after(client):
    ok = client.get("/api/v1/shops", query_string={"lat": "50.11", "lon": "8.68"})
    assert ok.status_code == 200 and "Retry-After" not in ok.headers


def test_a_statement_cut_short_is_a_503_with_a_short_retry_after(database_url, make,
                                                                   session, own_app):
    """A write waiting behind another transaction's lock ends in a 503 whose
    `Retry-After` is seconds, not the rate limit's window (PostgreSQL: its
    `statement_timeout` or `lock_timeout`; SQLite: its busy timeout)."""
    org = make.org("nordic")
    byd = make.brand("byd")
    shop = make.shop(org, name="Main Street EV", brands=[(byd, "authorized")])
    make.stock(shop, make.part(byd, "P-1"), qty=3)
    token = make.token(make.user("dealer", org))
    app = own_app({"DATABASE_URL": database_url,
                      "LOCK_TIMEOUT_MS": 2000, "STATEMENT_TIMEOUT_MS": 300})
    client = app.test_client()
    engine = make_engine(database_url)
    try:
        with writer(engine).connect() as holder:
            holder.begin()  # SQLite: BEGIN IMMEDIATE, the write lock at once
            holder.execute(text("UPDATE stock SET qty = qty WHERE shop_id = :s"),
                           {"s": shop.id})
            started = time.perf_counter()
            response = client.patch(f"/api/v1/dealer/shops/{shop.id}/stock/P-1",
                                    json={"qty": 7, "version": 1},
                                    headers={"Authorization": f"Bearer {token}"})
            seconds = time.perf_counter() - started
            holder.rollback()
    finally:
        engine.dispose()
    assert response.status_code == 503, response.json
    assert response.json["error"]["code"] == "busy"
    assert 1 <= int(response.headers["Retry-After"]) <= 5
    if database_url.startswith("postgresql"):
        assert seconds < 1.5  # the statement timeout, before the lock timeout
    session.expire_all()
    assert session.execute(text("SELECT qty FROM stock WHERE shop_id = :s"),
                           {"s": shop.id}).scalar_one() == 3
