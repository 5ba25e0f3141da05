"""Concurrent writers through two real server workers lose nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from service_portal.parts.models import Stock
from tests.test_cli_commands import _free_port, _wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def server(database_url):
    """`service-portal serve --workers 2` on this test's database."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url,
           "SECRET_KEY": "Zq8-3kLp0_vW7xYb2nM4cR6tA9sD1fGh", "TOKEN_FAILURE_LIMIT": "1000/minute"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from service_portal.cli import main; main()", "serve",
         "--port", str(port), "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    _wait_for(f"http://127.0.0.1:{port}/healthz", process)
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=20)


@pytest.fixture
def stocked(make):
    org = make.org()
    shop = make.shop(org)
    part = make.part(make.brand(), "P-1")
    make.stock(shop, part, qty=300)
    return shop, make.token(make.user("dealer", org))


def patch(port: int, path: str, token: str, body: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("PATCH", path, body=json.dumps(body),
                 headers={"Authorization": f"Bearer {token}",
                          "Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status


def final_qty(session, shop) -> tuple[int, int]:
    session.rollback()
    row = session.execute(select(Stock.qty, Stock.version)
                          .where(Stock.shop_id == shop.id)).one()
    return row.qty, row.version


def test_concurrent_decrements_lose_nothing(server, stocked, session):
    shop, token = stocked
    path = f"/api/v1/dealer/shops/{shop.id}/stock/P-1"
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda _: patch(server, path, token, {"qty_delta": -1}),
                                 range(320)))
    assert statuses.count(200) == 300 and statuses.count(409) == 20
    assert final_qty(session, shop) == (0, 301)


def test_concurrent_optimistic_writes_let_exactly_one_win(server, stocked, session):
    shop, token = stocked
    path = f"/api/v1/dealer/shops/{shop.id}/stock/P-1"
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda n: patch(server, path, token, {"qty": n, "version": 1}),
                                 range(40)))
    assert statuses.count(200) == 1 and statuses.count(409) == 39
    assert final_qty(session, shop)[1] == 2


def test_concurrent_case_changes_let_exactly_one_win_and_notes_all_land(server, make,
                                                                        session):
    from service_portal.cases.models import Case, CaseEvent

    make.service("hv-battery")
    make.model(make.brand("byd"), "byd-seal", year_from=2023)
    token = make.token(make.user("staff"))
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
    conn.request("POST", "/api/v1/cases", headers={"Content-Type": "application/json"},
                 body=json.dumps({"name": "A. Owner", "email": "a@owner.example",
                                  "model": "byd-seal", "country": "DE",
                                  "service": "hv-battery", "consent": True,
                                  "description": "Warning light on the dashboard."}))
    reference = json.loads(conn.getresponse().read())["reference"]
    conn.close()
    path = f"/api/v1/cases/{reference}"
    priorities = ["low", "high", "urgent"] * 10
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(
            lambda p: patch(server, path, token, {"priority": p, "version": 1}), priorities))
    assert statuses.count(200) == 1 and statuses.count(409) == 29

    def note(n: int) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
        conn.request("POST", f"{path}/notes", body=json.dumps({"body": f"note {n}"}),
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        return status

    with ThreadPoolExecutor(max_workers=12) as pool:
        assert set(pool.map(note, range(40))) == {201}
    session.rollback()
    case = session.execute(select(Case.id, Case.version)).one()
    notes = session.scalars(select(CaseEvent.body).where(CaseEvent.kind == "note")).all()
    assert sorted(notes) == sorted(f"note {n}" for n in range(40))
    assert case.version == 2 + 40
