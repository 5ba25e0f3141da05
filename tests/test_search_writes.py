"""The search while others write: one index per app whatever the session, a search in the
same request as a write, writers at different shops that never wait for each other on
PostgreSQL, lock waits that end in a 503, refreshes in proportion to the change, and the
reconciliation an operator runs after a change that bypassed the triggers."""

from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from service_portal.db import get_session, make_engine, writer
from service_portal.search import app_index, parse_search_args, search
from service_portal.search import index as index_module
from service_portal.search.exact import SearchQuery, search_shops

FRANKFURT = {"lat": "50.1109", "lon": "8.6821", "radius_km": "20"}
PASSWORD = "correct horse battery staple"


def found(client, **params) -> list[str]:
    body = client.get("/api/v1/shops", query_string=FRANKFURT | params).get_json()
    return [r["name"] for r in body["results"]]


def sign_in(client, email: str) -> None:
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                      client.get("/login").text).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302, "sign-in failed"


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


@pytest.fixture
def world(make):
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    service = make.service("hv-battery")
    own, other = make.org("nordic"), make.org("other")
    shop = make.shop(own, name="Main Street EV", brands=[(byd, "authorized")],
                     services=[service], lat=50.11, lon=8.68)
    other_shop = make.shop(other, name="Other Garage", brands=[(byd, "partner")],
                           services=[service], lat=50.12, lon=8.69)
    part = make.part(byd, "P-1")
    make.stock(shop, part, qty=3)
    make.stock(other_shop, part, qty=3)
    make.user("staff", email="agent@portal.example", password=PASSWORD)
    return {"shop": shop, "other_shop": other_shop, "part": part,
            "staff": make.token(make.user("staff")),
            "dealer": make.token(make.user("dealer", own))}


def test_the_staff_case_page_with_a_place_and_a_shop_answers_at_once(app, client, world,
                                                                     session):
    """The page writes an audit entry, then searches for nearby shops: the search finds the
    app's one index (no second index waiting for the request's own write lock)."""
    response = client.post("/api/v1/cases", json={
        "name": "Ingrid Example", "email": "ingrid@mail.example", "model": "byd-atto-3",
        "year": 2023, "country": "DE", "service": "hv-battery", "place": "Frankfurt am Main",
        "description": "Battery warning light after charging.", "consent": True})
    assert response.status_code == 201, response.json
    reference = response.json["reference"]
    session.execute(text("UPDATE cases SET shop_id = :s"), {"s": world["shop"].id})
    session.commit()
    index = app_index(app)
    staff = app.test_client()
    sign_in(staff, "agent@portal.example")
    for _ in range(2):
        page, seconds = timed(lambda: staff.get(f"/staff/cases/{reference}"))
        assert page.status_code == 200 and seconds < 1.0
        assert "Main Street EV" in page.text and "Other Garage" in page.text
    assert app_index(app) is index and index.health.refreshes == 1


def test_a_search_in_the_same_request_as_a_write(app, world, database_url):
    """A request that holds its write transaction can search: the index reads on its own
    connection and sees what is committed, the request's own write once it commits."""
    with app.test_request_context("/staff/x", method="POST"):
        session = get_session()
        session.execute(text("UPDATE shops SET name = 'Renamed' WHERE id = :s"),
                        {"s": world["shop"].id})
        body, seconds = timed(lambda: search(parse_search_args(MultiDict(FRANKFURT))))
        assert seconds < 1.0 and body["total"] == 2
        session.commit()
    with app.test_request_context("/api/v1/shops"):
        names = [r["name"] for r in search(parse_search_args(MultiDict(FRANKFURT)))["results"]]
    assert names == ["Renamed", "Other Garage"]


def test_writers_at_different_shops_do_not_wait_for_each_other(client, world, database_url):
    """A dealer's open write at one shop (its stock and its profile) does not hold up
    another organisation's sale and profile edit on PostgreSQL, which commits while the
    first is still open; SQLite has one writer at a time, so there the second commits
    once the first has. Both show in the next search."""
    postgres = database_url.startswith("postgresql")
    first_engine, second_engine = make_engine(database_url), make_engine(database_url)
    part, shop, other = world["part"], world["shop"], world["other_shop"]
    second_done = threading.Event()
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with writer(second_engine).begin() as conn:
                conn.execute(text("UPDATE stock SET qty = 0 WHERE shop_id = :s AND "
                                  "part_id = :p"), {"s": other.id, "p": part.id})
                conn.execute(text("UPDATE shops SET name = 'Other Garage 2' WHERE id = :s"),
                             {"s": other.id})
                conn.execute(text("INSERT INTO shop_languages (shop_id, language) "
                                  "VALUES (:s, 'fr')"), {"s": other.id})
            second_done.set()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        with writer(first_engine).begin() as conn:
            conn.execute(text("UPDATE stock SET qty = 9 WHERE shop_id = :s AND part_id = :p"),
                         {"s": shop.id, "p": part.id})
            conn.execute(text("UPDATE shops SET phone = '+4969123456' WHERE id = :s"),
                         {"s": shop.id})
            thread = threading.Thread(target=second_writer)
            thread.start()
            committed_meanwhile = second_done.wait(3 if postgres else 0.5)
        thread.join(10)
        assert not thread.is_alive() and not errors
        assert committed_meanwhile is postgres
    finally:
        first_engine.dispose()
        second_engine.dispose()
    assert found(client, part="P-1") == ["Main Street EV"]
    assert found(client, language="fr") == ["Other Garage 2"]


def test_a_lock_wait_ends_in_a_503_with_retry_after(make_app, world, database_url):
    """A write that waits for a lock longer than LOCK_TIMEOUT_MS answers 503 with
    `Retry-After` (PostgreSQL's lock_timeout, SQLite's busy timeout), changing nothing."""
    app = make_app(LOCK_TIMEOUT_MS=300)
    client = app.test_client()
    holder = make_engine(database_url)
    try:
        with writer(holder).begin() as conn:
            conn.execute(text("UPDATE stock SET qty = 1 WHERE shop_id = :s"),
                         {"s": world["shop"].id})
            response, seconds = timed(lambda: client.patch(
                f"/api/v1/dealer/shops/{world['shop'].id}/stock/P-1", json={"qty_delta": -1},
                headers={"Authorization": f"Bearer {world['dealer']}"}))
            conn.rollback()
    finally:
        holder.dispose()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["error"]["code"] == "busy" and seconds < 3
    stock = client.get(f"/api/v1/dealer/shops/{world['shop'].id}/stock",
                       headers={"Authorization": f"Bearer {world['dealer']}"}).json
    assert [line["qty"] for line in stock["results"]] == [3]


def test_a_refresh_appends_the_changed_shop_and_older_views_keep_answering(app, world,
                                                                           session):
    """One changed shop is one new row: the arrays are not copied, and a search that took
    its view before the change still answers from it, whole."""
    index = app_index(app)
    with app.test_request_context("/"):
        old = index.current()
        session.execute(text("UPDATE shops SET lat = 10.0, lon = 10.0 WHERE id = :s"),
                        {"s": world["shop"].id})
        session.commit()
        new = index.current()
        query = SearchQuery(lat=50.1109, lon=8.6821, radius_km=20)
        before = search_shops(get_session(), query, old, index=index)
        after = search_shops(get_session(), query, new, index=index)
    assert new.columns is old.columns and new.size == old.size + 1
    assert new.generation == old.generation + 1
    assert [h.shop_id for h in before.hits] == [world["shop"].id, world["other_shop"].id]
    assert [h.shop_id for h in after.hits] == [world["other_shop"].id]


def test_rows_of_removed_and_changed_shops_are_freed_when_the_arrays_are_compacted(
        app, client, world, session, monkeypatch):
    monkeypatch.setattr(index_module, "LOOSE_MAX", 2)
    index = app_index(app)
    assert found(client) == ["Main Street EV", "Other Garage"]
    for lat in (50.111, 50.112, 50.113):
        session.execute(text("UPDATE shops SET lat = :lat WHERE id = :s"),
                        {"lat": lat, "s": world["shop"].id})
        session.commit()
        assert found(client) == ["Main Street EV", "Other Garage"]
    session.execute(text("DELETE FROM stock WHERE shop_id = :s"), {"s": world["other_shop"].id})
    session.execute(text("DELETE FROM shops WHERE id = :s"), {"s": world["other_shop"].id})
    session.commit()
    assert found(client) == ["Main Street EV"]
    report = index.report()
    assert index.health.compactions >= 1
    assert report["shops"] == 1 and report["rows"] <= 2


def test_search_check_repairs_a_change_that_bypassed_the_triggers(app, client, world,
                                                                  session, cli, database_url):
    assert found(client) == ["Main Street EV", "Other Garage"]
    staff = {"Authorization": f"Bearer {world['staff']}"}
    engine = make_engine(database_url)
    try:
        with writer(engine).begin() as conn:  # a restore, say, with the triggers off
            if database_url.startswith("postgresql"):
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                conn.execute(text("UPDATE shops SET lat = 10.0 WHERE id = :s"),
                             {"s": world["other_shop"].id})
            else:
                sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = "
                                        "'shops_search_update'")).scalar_one()
                conn.execute(text("DROP TRIGGER shops_search_update"))
                conn.execute(text("UPDATE shops SET lat = 10.0 WHERE id = :s"),
                             {"s": world["other_shop"].id})
                conn.execute(text(sql))
    finally:
        engine.dispose()
    assert found(client) == ["Main Street EV", "Other Garage"]  # nothing told the index
    result = cli("search-check")
    assert "shops in the index: 2" in result.output
    assert "differing from a full load: 0" in result.output  # both built as told
    result = cli("search-check", "--repair")
    assert result.exit_code == 0 and "afresh" in result.output
    assert found(client) == ["Main Street EV"]
    detail = client.get("/healthz?detail=1", headers=staff).json["search_index"]
    assert detail["last_check"]["changed"] == [world["other_shop"].id]
    assert detail["last_check"]["differences"] == 1


def test_search_check_fails_on_stamps_ahead_of_the_feed(cli, world, session, database_url):
    ahead = "9000000000000" if database_url.startswith("postgresql") else \
        "(SELECT seq + 5 FROM search_changes)"
    session.execute(text("INSERT INTO search_removed_shops (shop_id, search_seq) "
                         f"VALUES (424242, {ahead})"))
    session.commit()
    result = cli("search-check")
    assert result.exit_code == 1 and "stamps ahead of the change feed: 1" in result.output
    assert cli("search-check", "--repair").exit_code == 0
    assert cli("search-check").exit_code == 0


def test_a_part_search_follows_a_shop_that_moves(client, world, session):
    """Stock rows carry their shop's map cell: a shop that moves takes them along."""
    part = {"part": "P-1"}
    assert found(client, **part) == ["Main Street EV", "Other Garage"]
    session.execute(text("UPDATE shops SET lat = 48.14, lon = 11.58 WHERE id = :s"),
                    {"s": world["other_shop"].id})  # to Munich
    session.commit()
    assert found(client, **part) == ["Main Street EV"]
    munich = {"lat": "48.137", "lon": "11.575", "radius_km": "20"}
    body = client.get("/api/v1/shops", query_string=munich | part).get_json()
    assert [r["name"] for r in body["results"]] == ["Other Garage"]
    assert body["results"][0]["parts"][0]["qty"] == 3


def test_search_check_repairs_stock_rows_without_their_shops_cell(client, cli, world,
                                                                  session):
    session.execute(text("UPDATE stock SET cell = NULL WHERE shop_id = :s"),
                    {"s": world["other_shop"].id})  # as a restore without triggers might
    session.commit()
    assert found(client, part="P-1") == ["Main Street EV"]
    result = cli("search-check")
    assert result.exit_code == 1
    assert "stock rows without their shop's map cell: 1" in result.output
    result = cli("search-check", "--repair")
    assert result.exit_code == 0 and "(repaired)" in result.output
    assert found(client, part="P-1") == ["Main Street EV", "Other Garage"]
    assert cli("search-check").exit_code == 0


def test_healthz_detail_shows_the_index_to_staff_only(client, world, session):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/healthz?detail=1").status_code == 401
    dealer = {"Authorization": f"Bearer {world['dealer']}"}
    assert client.get("/healthz?detail=1", headers=dealer).status_code == 403
    staff = {"Authorization": f"Bearer {world['staff']}"}
    assert found(client) == ["Main Street EV", "Other Garage"]
    detail = client.get("/healthz?detail=1", headers=staff).json["search_index"]
    assert detail["loaded"] and detail["shops"] == 2 and detail["pending_changes"] == 0
    assert 0 <= detail["age_seconds"] < 60
    session.execute(text("UPDATE shops SET name = 'Renamed' WHERE id = :s"),
                    {"s": world["shop"].id})
    session.commit()
    detail = client.get("/healthz?detail=1", headers=staff).json["search_index"]
    assert detail["pending_changes"] >= 1
    assert found(client)[0] == "Renamed"
    assert client.get("/healthz?detail=1", headers=staff).json["search_index"][
        "pending_changes"] == 0
