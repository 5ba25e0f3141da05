"""The fast paths of the stock import (staging table, COPY on PostgreSQL, the quick row
check) store and report exactly what the rules say, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from service_portal.audit.actors import Actor
from service_portal.parts import services
from service_portal.parts.models import Stock
from service_portal.parts.schemas import parse_stock_row
from service_portal.parts.services import import_stock
from service_portal.tabular import ImportFailed, read_table

HEADER = "shop_external_id,part_number,qty,price,currency\n"


@pytest.fixture
def world(make, session):
    """Two shops and three parts; shop s-1 already stocks P-1 (qty 5, 10.00 EUR)."""
    brand = make.brand("byd")
    org = make.org("org")
    shops = [make.shop(org, external_id=f"s-{i}") for i in (1, 2)]
    parts = [make.part(brand, f"P-{i}") for i in (1, 2, 3)]
    make.stock(shops[0], parts[0], qty=5, price=Decimal("10.00"), currency="EUR")
    return shops


def run(session, text: str, **options) -> dict[str, int]:
    try:
        return import_stock(session, read_table(text.encode(), "s.csv", max_rows=None),
                            actor=Actor.command_line("test"), source="s.csv", **options)
    finally:
        session.flush()


def lines(session) -> dict[tuple[int, int], tuple]:
    session.expire_all()
    return {(s.shop_id, s.part_id): (s.qty, Decimal(s.price).quantize(Decimal("0.01")),
                                     s.currency, s.version)
            for s in session.scalars(select(Stock))}


GOOD = HEADER + "s-1,P-1,5,10.00,EUR\ns-1,P-2,3,4.5,eur\ns-2,P-1,0,0,EUR\ns-1,P-3,1,2,EUR\n"


def test_counts_of_a_mixed_file(session, world):
    changed = GOOD.replace("s-1,P-1,5,10.00", "s-1,P-1,6,10.00")
    assert run(session, changed) == {"created": 3, "updated": 1, "deleted": 0, "unchanged": 0}
    assert run(session, changed) == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 4}


def test_dry_run_counts_what_the_import_then_does_and_stores_nothing(session, world):
    before = lines(session)
    dry = run(session, GOOD, dry_run=True)
    assert lines(session) == before
    assert dry == {"created": 3, "updated": 0, "deleted": 0, "unchanged": 1}
    assert run(session, GOOD) == dry


def test_changed_line_gets_a_new_version_and_unchanged_keeps_it(session, world):
    run(session, GOOD.replace("s-1,P-1,5,10.00", "s-1,P-1,5,10.01"))
    by_qty = {v[0]: v for v in lines(session).values()}
    assert by_qty[5][1:] == (Decimal("10.01"), "EUR", 2)
    assert by_qty[3][1:] == (Decimal("4.50"), "EUR", 1)


def test_bad_row_at_the_very_end_of_many_batches_stores_nothing(session, world, monkeypatch):
    monkeypatch.setattr(services, "STOCK_BATCH", 2)
    before = lines(session)
    with pytest.raises(ImportFailed) as failed:
        run(session, GOOD + "s-2,P-2,1,1.00,EUX\n")
    assert [e.to_dict() for e in failed.value.errors] == [
        {"row": 6, "column": "currency",
         "message": "Not an ISO 4217 currency code: EUX"}]
    assert lines(session) == before


def test_every_bad_row_and_cell_is_reported_in_row_order(session, world, monkeypatch):
    monkeypatch.setattr(services, "STOCK_BATCH", 3)
    text = (HEADER + "s-1,P-2,1,1,EUR\n"
            "s-9,P-2,1,1,EUR\n"          # unknown shop
            "s-1,P-9,1,1,EUR\n"          # unknown part
            ",P-1,-1,1.234,EURO\n"       # four bad cells
            "s-1,P-2,2,1,EUR\n"          # duplicate of row 2
            "  ,  ,  ,  ,  \n"           # blank: skipped
            "s-2,P-3,٣,1,EUR\n")         # Arabic-Indic digit
    with pytest.raises(ImportFailed) as failed:
        run(session, text)
    assert [(e.row, e.column) for e in failed.value.errors] == [
        (3, "shop_external_id"), (4, "part_number"), (5, "shop_external_id"),
        (5, "qty"), (5, "price"), (5, "currency"), (6, "part_number"), (8, "qty")]
    assert failed.value.errors[6].message == \
        "Duplicate part for this shop; first seen in row 2."


def test_two_imports_in_one_transaction_reuse_the_staging_table(session, world):
    run(session, GOOD, dry_run=True)
    run(session, GOOD)
    with pytest.raises(ImportFailed):
        run(session, HEADER + "s-1,P-1,x,1,EUR\n")
    assert run(session, GOOD)["unchanged"] == 4


def test_replace_removes_unlisted_lines_of_the_named_shop(session, world):
    run(session, GOOD)
    counts = run(session, "part_number,qty,price,currency\nP-2,3,4.50,EUR\n",
                 shop_external_id="s-1", replace=True)
    assert counts == {"created": 0, "updated": 0, "deleted": 2, "unchanged": 1}
    assert len(lines(session)) == 2  # s-1's P-2 and s-2's P-1


@pytest.mark.parametrize("cells, expected", [
    (("s-1", " p-1 ", "007", "12,5", " eur "), ("s-1", "P-1", 7, Decimal("12.5"), "EUR")),
    (("s-1", "P-1", "1000000", "0", "CHF"), ("s-1", "P-1", 1_000_000, Decimal("0.0"), "CHF")),
    (("", "P-1", "1", "1", "EUR"), ["shop_external_id"]),
    (("s-1", "", "", "", ""), ["part_number", "qty", "price", "currency"]),
    (("s-1", "P 1", "1000001", "1.234", "EU"), ["part_number", "qty", "price", "currency"]),
    (("s-1", "P-1", "+1", "-1", "ZZZ"), ["qty", "price", "currency"]),
    (("s-1", "P-1", "1.0", "1e3", "€"), ["qty", "price", "currency"]),
])
def test_quick_and_full_row_checks_agree(app, cells, expected):
    row = dict(zip(("shop_external_id", "part_number", "qty", "price", "currency"), cells,
                   strict=True))
    with app.app_context():
        item, errors = parse_stock_row(9, row, shop_column=True)
    if isinstance(expected, tuple):
        assert errors == []
        assert (item.shop_external_id, item.part_number, item.qty, item.price,
                item.currency) == expected
    else:
        assert item is None and [e.column for e in errors] == expected


def test_csv_rows_of_any_width_read_as_before(app):
    text = ("a,b,,c\n"
            "1,2,3,4\n"      # as wide as the header, but a column has no name
            "1,2\n"          # short: the missing cells are empty
            "1,2,3,4,5\n"    # long: the extra cell is ignored
            "\t, ,\n")       # blank
    with app.app_context():
        rows = list(read_table(text.encode()).rows)
    assert rows == [(2, {"a": "1", "b": "2", "c": "4"}), (3, {"a": "1", "b": "2", "c": ""}),
                    (4, {"a": "1", "b": "2", "c": "4"})]


def test_overlong_cells_are_cut_as_before(app):
    with app.app_context():
        rows = list(read_table(("a,b\n" + "x" * 3000 + ",y\n").encode()).rows)
    assert rows == [(2, {"a": "x" * 2000, "b": "y"})]


def test_copy_rows_keeps_awkward_values(session):
    from service_portal.db import copy_rows

    connection = session.connection()
    connection.exec_driver_sql("CREATE TEMPORARY TABLE copied (n INTEGER, amount NUMERIC(12, 2),"
                               " label VARCHAR(40))")
    rows = [(1, Decimal("1.50"), "tab\there"), (2, None, "back\\slash\nnew line"),
            (3, Decimal("0"), "")]
    if connection.dialect.name == "sqlite":  # driver-ready values, as the import passes
        rows = [(n, None if a is None else float(a), label) for n, a, label in rows]
    copy_rows(connection, "copied", ("n", "amount", "label"), rows)
    got = connection.exec_driver_sql("SELECT n, amount, label FROM copied ORDER BY n").all()
    session.rollback()
    assert [(n, None if a is None else Decimal(str(a)), label) for n, a, label in got] == \
        [(1, Decimal("1.5"), "tab\there"), (2, None, "back\\slash\nnew line"),
         (3, Decimal("0"), "")]
