"""Hostile and heavy stock files: each reading limit ends in a quick 422 naming it and
stores nothing; checking a file holds no write lock; previews have a quota per dealer;
an import killed mid-merge leaves the stock as it was (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, insert, select, text, update
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from service_portal.db import make_engine, utcnow, writer
from service_portal.parts.models import Part, Stock, StockUpload
from service_portal.parts.services import PREVIEWS_PER_USER
from service_portal.tabular import MAX_CELLS, MAX_ROWS, MAX_SHARED_STRINGS

PASSWORD = "correct horse battery staple"
HEADER = ["part_number", "qty", "price", "currency"]
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


# --- files --------------------------------------------------------------------------

def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def rewritten(data: bytes, change: dict, add: dict | None = None) -> bytes:
    """The archive `data` with some members changed (name -> function of the bytes) and
    some added, deflated as Excel does."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            body = source.read(info.filename)
            archive.writestr(info.filename, change.get(info.filename, lambda b: b)(body))
        for name, body in (add or {}).items():
            archive.writestr(name, body)
    return out.getvalue()


def good_sheet() -> bytes:
    return xlsx([HEADER, ["BYD-OLD", 1, 1, "EUR"]])


def with_rows_after(extra: bytes) -> bytes:
    """The good sheet with `extra` row elements after its rows."""
    return rewritten(good_sheet(), {"xl/worksheets/sheet1.xml": lambda b: b.replace(
        b"</row></sheetData>", b"</row>" + extra + b"</sheetData>", 1)})


def many_shared_strings() -> bytes:
    """3 million shared strings (openpyxl would load them all) in about 100 KB."""
    count = 10 * MAX_SHARED_STRINGS
    table = (f'<sst xmlns="{MAIN_NS}" count="{count}" uniqueCount="{count}">'.encode()
             + b"<si><t/></si>" * count + b"</sst>")
    content_type = (b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
    return rewritten(good_sheet(),
                     {"[Content_Types].xml": lambda b: b.replace(b"</Types>",
                                                                 content_type + b"</Types>")},
                     {"xl/sharedStrings.xml": table})


def blank_rows() -> bytes:
    """Megabytes of blank rows after one good row (the declared dimension says A1:D2)."""
    return with_rows_after(b"".join(b'<row r="%d"/>' % n for n in range(3, 2 * MAX_ROWS)))


def one_row_far_below() -> bytes:
    """A row at 1,048,576: a million blank rows that are not even in the file."""
    return with_rows_after(b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>BYD-NEW'
                           b"</t></is></c></row>")


def wide_rows() -> bytes:
    """Rows whose one cell sits in the last column: 16,384 cells each."""
    rows = MAX_CELLS // 16_384 + 2
    return with_rows_after(b"".join(b'<row r="%d"><c r="XFD%d"><v>1</v></c></row>' % (n, n)
                                    for n in range(3, 3 + rows)))


def wide_header() -> bytes:
    """A header reaching the last column, over rows of four cells: each row costs as much
    to read as the header is wide."""
    return xlsx([HEADER + [None] * 16_379 + ["note"]]
                + [[f"BYD-{n}", 1, 1, "EUR"] for n in range(MAX_CELLS // 16_384 + 2)])


def huge_styles() -> bytes:
    """A styles part that openpyxl would read whole and slowly: 8 MB of cell formats."""
    xf = b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    return rewritten(good_sheet(), {"xl/styles.xml": lambda b: re.sub(
        rb'<cellXfs count="\d+">', lambda m: m.group(0) + xf * 130_000, b, count=1)})


def wrong_dimension() -> bytes:
    """Three rows of four columns under a `<dimension ref="A1:B2"/>`."""
    data = xlsx([HEADER, ["BYD-OLD", 2, "1.50", "EUR"], ["BYD-NEW", 3, "2.50", "EUR"]])
    return rewritten(data, {"xl/worksheets/sheet1.xml": lambda b: re.sub(
        rb'<dimension ref="[^"]+"', b'<dimension ref="A1:B2"', b)})


HOSTILE = {
    "shared_strings": (many_shared_strings, "too_many_shared_strings",
                       f"{MAX_SHARED_STRINGS:,}"),
    "blank_rows": (blank_rows, "too_many_rows", f"{MAX_ROWS:,}"),
    "row_far_below": (one_row_far_below, "too_many_rows", f"{MAX_ROWS:,}"),
    "wide_rows": (wide_rows, "too_many_cells", f"{MAX_CELLS:,}"),
    "wide_header": (wide_header, "too_many_cells", f"{MAX_CELLS:,}"),
    "huge_styles": (huge_styles, "xlsx_part_too_large", "5 MB"),
}


# --- the world ----------------------------------------------------------------------

@pytest.fixture
def world(make):
    """A dealer with a token and a shop holding 10 of BYD-OLD; BYD-NEW is in the catalog."""
    byd = make.brand("byd")
    old = make.part(byd, "BYD-OLD")
    make.part(byd, "BYD-NEW")
    org = make.org("alpha")
    shop = make.shop(org, external_id="alpha-1")
    make.stock(shop, old, qty=10)
    dealer = make.user("dealer", org, email="alpha@dealer.example", password=PASSWORD)
    return {"org": org, "shop": shop, "brand": byd, "token": make.token(dealer),
            "dealer": dealer}


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def multipart(fields: dict, data: bytes, name: str) -> dict:
    """A multipart body with `fields` and the file, encoded in memory (the test client
    would spool a large one to a temporary file that it never closes)."""
    boundary, body = encode_multipart({**fields, "file": FileStorage(io.BytesIO(data), name)})
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def api_import(client, world, data: bytes, name: str = "stock.xlsx", *, dry_run=False,
               headers: dict | None = None):
    url = f"/api/v1/dealer/shops/{world['shop'].id}/stock/import"
    return client.post(url + ("?dry_run=true" if dry_run else ""),
                       headers={**auth(world["token"]), **(headers or {})},
                       **multipart({}, data, name))


def stock_rows(session) -> list[tuple]:
    session.rollback()
    return session.execute(select(Stock.shop_id, Stock.part_id, Stock.qty, Stock.price,
                                  Stock.currency, Stock.version, Stock.updated_at)
                           .order_by(Stock.shop_id, Stock.part_id)).all()


def csrf(page: bytes) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                     page.decode()).group(1)


def sign_in(client) -> None:
    token = csrf(client.get("/login").data)
    client.post("/login", data={"email": "alpha@dealer.example", "password": PASSWORD,
                                "csrf_token": token})


def page_upload(client, shop, data: bytes, name: str):
    token = csrf(client.get(f"/dealer/shops/{shop.id}/stock").data)
    return client.post(f"/dealer/shops/{shop.id}/stock/upload",
                       **multipart({"csrf_token": token}, data, name))


def uploads(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(StockUpload))


# --- limits -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_xlsx_gets_a_quick_422_naming_its_limit_and_stores_nothing(
        client, world, session, kind):
    build, code, limit = HOSTILE[kind]
    data = build()
    assert len(data) < 2_000_000  # small files, each costly to read
    before = stock_rows(session)
    started = time.monotonic()
    response = api_import(client, world, data)
    assert time.monotonic() - started < 5
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == code and error["field"] == "file"
    assert limit in error["message"]
    assert stock_rows(session) == before


def test_a_limit_is_named_in_the_requests_language(client, world):
    response = api_import(client, world, one_row_far_below(), headers={"Accept-Language": "de"})
    assert response.status_code == 422
    assert response.json["error"]["message"] == (
        "Die Datei hat mehr als 100.000 Zeilen (leere Zeilen zählen mit).")
    assert response.json["error"]["details"] == [{"limit": "rows", "max": MAX_ROWS}]


@pytest.mark.parametrize("kind", ["shared_strings", "blank_rows"])
def test_hostile_xlsx_preview_page_is_a_quick_422_and_keeps_nothing(client, world, session,
                                                                    kind):
    build, _code, limit = HOSTILE[kind]
    sign_in(client)
    before = stock_rows(session)
    started = time.monotonic()
    response = page_upload(client, world["shop"], build(), "stock.xlsx")
    assert time.monotonic() - started < 5
    assert response.status_code == 422 and limit.encode() in response.data
    assert stock_rows(session) == before and uploads(session) == 0


@pytest.mark.parametrize("name", ["stock.csv", "stock.xlsx"])
def test_a_file_slower_than_the_parse_budget_is_refused(make_app, world, session, name):
    rows = [["BYD-OLD", 1, "1.00", "EUR"]] * 30_000
    if name.endswith(".csv"):
        data = ("\n".join(",".join(map(str, r)) for r in [HEADER, *rows]) + "\n").encode()
    else:
        data = xlsx([HEADER, *rows])
    client = make_app(IMPORT_PARSE_SECONDS=0.05).test_client()
    before = stock_rows(session)
    started = time.monotonic()
    response = api_import(client, world, data, name)
    assert time.monotonic() - started < 5
    assert response.status_code == 422 and response.json["error"]["code"] == "too_slow"
    assert "0.05 seconds" in response.json["error"]["message"]
    assert stock_rows(session) == before


def test_rows_and_columns_beyond_a_wrong_dimension_are_read(client, world, session):
    response = api_import(client, world, wrong_dimension())
    assert response.status_code == 200, response.json
    assert (response.json["created"], response.json["updated"]) == (1, 1)
    session.rollback()
    stored = dict(session.execute(select(Part.part_number, Stock.qty).join(Part)).all())
    assert stored == {"BYD-OLD": 2, "BYD-NEW": 3}


def test_the_command_line_reads_beyond_a_wrong_dimension(cli, world, write_file, session):
    path = write_file("stock.xlsx", wrong_dimension())
    result = cli("import-stock", str(path), "--shop", "alpha-1")
    assert result.exit_code == 0, result.output
    assert "created: 1, updated: 1" in result.output


def test_the_command_line_refuses_a_part_read_whole_past_its_limit(cli, world, write_file,
                                                                    session):
    before = stock_rows(session)
    result = cli("import-stock", str(write_file("s.xlsx", huge_styles())), "--shop", "alpha-1")
    assert result.exit_code != 0 and "xl/styles.xml" in result.output
    assert stock_rows(session) == before


# --- preview quota ------------------------------------------------------------------

def test_a_new_preview_replaces_the_dealers_oldest_beyond_the_quota(client, world, session):
    sign_in(client)
    shop = world["shop"]
    actions = []
    for qty in range(1, PREVIEWS_PER_USER + 2):
        csv = f"part_number,qty,price,currency\nBYD-OLD,{qty},1,EUR\n".encode()
        preview = page_upload(client, shop, csv, "s.csv")
        assert preview.status_code == 200
        actions.append((re.search(rb'action="([^"]+/upload/[^"]+)"', preview.data)
                        .group(1).decode(), csrf(preview.data)))
    assert uploads(session) == PREVIEWS_PER_USER
    oldest = client.post(actions[0][0], data={"csrf_token": actions[0][1]},
                         follow_redirects=True)
    assert b"This preview has expired" in oldest.data
    session.rollback()
    assert session.scalar(select(Stock.qty).where(Stock.shop_id == shop.id)) == 10
    newest = client.post(actions[-1][0], data={"csrf_token": actions[-1][1]})
    assert newest.status_code == 303
    session.rollback()
    assert session.scalar(select(Stock.qty).where(Stock.shop_id == shop.id)) == 4
    assert uploads(session) == PREVIEWS_PER_USER - 1


def test_previews_of_a_dealer_hold_at_most_two_uploads_worth_of_bytes(make_app, world,
                                                                      session):
    client = make_app(MAX_UPLOAD_MB=1).test_client()
    sign_in(client)
    # Valid files of 0.8 MB each: one row, then lines of spaces (blank, so skipped).
    padding = b"        \n" * 90_000
    for qty in (1, 2, 3):
        csv = f"part_number,qty,price,currency\nBYD-OLD,{qty},1,EUR\n".encode() + padding
        assert page_upload(client, world["shop"], csv, "s.csv").status_code == 200
    session.rollback()
    sizes = session.execute(select(func.length(StockUpload.data))).scalars().all()
    assert len(sizes) == 2 and sum(sizes) <= 2 * 1024 * 1024


def test_a_preview_is_committed_once_however_often_it_is_clicked(client, world, session):
    sign_in(client)
    csv = b"part_number,qty,price,currency\nBYD-OLD,3,1,EUR\nBYD-NEW,1,1,EUR\n"
    preview = page_upload(client, world["shop"], csv, "s.csv")
    action = re.search(rb'action="([^"]+/upload/[^"]+)"', preview.data).group(1).decode()
    token = csrf(preview.data)
    assert client.post(action, data={"csrf_token": token}).status_code == 303
    again = client.post(action, data={"csrf_token": token}, follow_redirects=True)
    assert b"This preview has expired" in again.data
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Stock)) == 2
    assert uploads(session) == 0


# --- locks while checking, and a kill mid-merge -------------------------------------

@pytest.fixture
def big_import(world, session, tmp_path):
    """Four shops of the dealer, 25,000 parts, 25,000 lines of stock already held by the
    first shop, and a CSV of 100,000 lines for all four (every line a change)."""
    org, brand = world["org"], world["brand"]
    shops = [world["shop"]] + [
        _shop(session, org, f"alpha-{n}") for n in range(2, 5)]
    numbers = [f"K-{n:06d}" for n in range(25_000)]
    session.execute(insert(Part), [{"part_number": pn, "brand_id": brand.id, "name": "Pad",
                                    "category": "brakes"} for pn in numbers])
    ids = dict(session.execute(select(Part.part_number, Part.id)
                               .where(Part.part_number.like("K-%"))).all())
    session.execute(insert(Stock), [
        {"shop_id": shops[0].id, "part_id": ids[pn], "qty": 1, "price": Decimal("2.00"),
         "currency": "EUR", "min_qty": 0, "version": 1, "updated_at": utcnow()}
        for pn in numbers])
    session.commit()
    lines = ["shop_external_id,part_number,qty,price,currency"] + [
        f"{shop.external_id},{pn},7,3.50,EUR" for shop in shops for pn in numbers]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _shop(session, org, external_id):
    from service_portal.shops.models import Shop

    shop = Shop(organization_id=org.id, external_id=external_id, name=external_id,
                country="DE", lat=50.1, lon=8.7, timezone="Europe/Berlin",
                opening_hours="Mo-Fr 08:00-18:00")
    session.add(shop)
    session.commit()
    return shop


def start_cli(database_url: str, *args: str) -> subprocess.Popen:
    """The real `service-portal` command in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-c", "from service_portal.cli import main; main()", *args],
        env={**os.environ, "DATABASE_URL": database_url}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Kill the command if it still runs; its pipes are read to the end and closed."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)


def wait_for_progress(process: subprocess.Popen) -> None:
    """Until the command reports its first checked rows (it is then checking the rest)."""
    while "rows checked" not in (line := process.stderr.readline()):
        assert line, "the command ended before it checked any rows"


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "import"])
def test_checking_a_file_holds_no_write_lock(make_app, world, big_import, database_url,
                                             session, dry_run):
    process = start_cli(database_url, "import-stock", str(big_import),
                        *(["--dry-run"] if dry_run else []))
    try:
        wait_for_progress(process)
        # A web write that waits at most 200 ms for a lock, while the command checks.
        client = make_app(LOCK_TIMEOUT_MS=200).test_client()
        response = client.patch(
            f"/api/v1/dealer/shops/{world['shop'].id}/stock/BYD-OLD",
            json={"qty_delta": 1}, headers=auth(world["token"]))
        assert process.poll() is None, "the command ended before the write: use more rows"
        assert response.status_code == 200, response.data
        out, err = process.communicate(timeout=120)
    finally:
        stop(process)
    assert process.returncode == 0, err
    assert "created: 75000, updated: 25000" in out
    session.rollback()
    assert session.scalar(select(Stock.qty).join(Part).where(
        Part.part_number == "BYD-OLD")) == 11
    imported = session.scalar(select(func.count()).select_from(Stock).where(Stock.qty == 7))
    assert imported == (0 if dry_run else 100_000)


def test_a_dry_run_answers_while_another_connection_holds_the_write_lock(
        make_app, world, database_url, session):
    client = make_app(LOCK_TIMEOUT_MS=200).test_client()  # a request waits 200 ms at most
    engine = make_engine(database_url)
    csv = b"part_number,qty,price,currency\nBYD-OLD,2,1,EUR\n"
    try:
        with writer(engine).connect() as other, other.begin():
            # SQLite's write lock, and on PostgreSQL the row lock of the line in the file.
            other.execute(update(Stock).where(Stock.shop_id == world["shop"].id)
                          .values(qty=Stock.qty + 1))
            response = api_import(client, world, csv, "s.csv", dry_run=True)
            other.rollback()
    finally:
        engine.dispose()
    assert response.status_code == 200, response.json
    assert response.json["updated"] == 1 and response.json["dry_run"] is True


def _merging(database_url: str):
    """A probe: is an import's merge under way (holding the write lock, on SQLite)?"""
    if database_url.startswith("sqlite"):
        probe = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0,
                                isolation_level=None)

        def check() -> bool:
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True
            probe.execute("ROLLBACK")
            return False

        return check, probe.close
    engine = make_engine(database_url)
    # Autocommit: in a transaction, pg_stat_activity would stay as first read.
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def check() -> bool:
        return bool(connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE 'WITH up AS (INSERT INTO stock%'")).scalar_one())

    def close() -> None:
        connection.close()
        engine.dispose()

    return check, close


def test_an_import_killed_mid_merge_leaves_the_stock_as_it_was(world, big_import, database_url,
                                                                session, cli, write_file):
    before = stock_rows(session)
    check, close = _merging(database_url)
    process = start_cli(database_url, "import-stock", str(big_import))
    try:
        deadline = time.monotonic() + 120
        while not check():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        close()
        stop(process)
    assert process.returncode == -signal.SIGKILL
    assert stock_rows(session) == before
    # The killed command's locks are gone: a new import of a line it was writing works.
    fresh = write_file("one.csv", "shop_external_id,part_number,qty,price,currency\n"
                                  "alpha-1,K-000001,5,3.50,EUR\n")
    result = cli("import-stock", str(fresh))
    assert result.exit_code == 0, result.output
    assert "updated: 1" in result.output
    after = stock_rows(session)
    assert len(after) == len(before)
    assert sum(1 for row in after if row.qty == 5) == 1
