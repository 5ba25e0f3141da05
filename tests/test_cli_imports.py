"""`import-shops`, `import-parts`, `import-stock`: all or nothing, every bad row reported."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from service_portal.audit.actors import Actor
from service_portal.parts.models import Part, PartFitment, Stock
from service_portal.reference.load import load_reference
from service_portal.shops.models import Organization, Shop, ShopBrand, ShopLanguage

SHOP_HEADER = ("external_id,name,organization,brands,services,languages,address,city,"
               "postal_code,country,lat,lon,timezone,phone,email,website,opening_hours,"
               "hv_level,hv_valid_until\n")
GOOD_SHOP = ('fra-1,Mainufer EV Werkstatt,mainufer-ev,byd:authorized;mg:partner,'
             'maintenance;hv-battery,de;en;tr,Hanauer Landstraße 100,Frankfurt am Main,60314,DE,'
             '50.1127,8.7161,,069 1234567,info@mainufer.example,https://mainufer.example/,'
             '"Mo-Fr 08:00-18:00; Sa 09:00-13:00",2S,2027-06-30\n')
PARTS = ("part_number,brand,name,category,superseded_by,fits\n"
         "BYD-A,byd,Front brake pad set,brakes,BYD-B,byd-atto-3;byd-dolphin\n"
         "BYD-B,byd,Front brake pad set (rev. B),brakes,BYD-C,byd-atto-3;byd-dolphin\n"
         "BYD-C,byd,Front brake pad set (rev. C),brakes,,byd-atto-3;byd-dolphin\n"
         "MG-1,mg,Cabin air filter,filters,,mg-mg4\n")


@pytest.fixture
def catalog(session):
    """The reference catalog, as `init-db` loads it."""
    load_reference(session, Actor.command_line("test"))
    session.commit()


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def test_import_shops_creates_shop_with_links_and_derived_zone(cli, write_file, catalog,
                                                                session):
    result = cli("import-shops", str(write_file("shops.csv", SHOP_HEADER + GOOD_SHOP)))
    assert result.exit_code == 0, result.output
    assert "created: 1" in result.output
    shop = session.scalars(select(Shop)).one()
    assert shop.phone == "+49691234567"
    assert shop.timezone == "Europe/Berlin"
    assert shop.hv_level == "2S"
    assert session.scalars(select(Organization.slug)).all() == ["mainufer-ev"]
    levels = dict(session.execute(select(ShopBrand.brand_id, ShopBrand.level)).all())
    assert sorted(levels.values()) == ["authorized", "partner"]
    assert set(session.scalars(select(ShopLanguage.language))) == {"de", "en", "tr"}


def test_import_shops_again_changes_nothing(cli, write_file, catalog, session):
    path = write_file("shops.csv", SHOP_HEADER + GOOD_SHOP)
    cli("import-shops", str(path))
    result = cli("import-shops", str(path))
    assert "created: 0, updated: 0, unchanged: 1" in result.output
    assert session.scalars(select(Shop.version)).one() == 1


def test_import_shops_updates_matched_on_external_id(cli, write_file, catalog, session):
    cli("import-shops", str(write_file("a.csv", SHOP_HEADER + GOOD_SHOP)))
    changed = GOOD_SHOP.replace("Mainufer EV Werkstatt", "Mainufer E-Mobil")
    result = cli("import-shops", str(write_file("b.csv", SHOP_HEADER + changed)))
    assert "updated: 1" in result.output
    session.rollback()
    shop = session.scalars(select(Shop)).one()
    assert (shop.name, shop.version) == ("Mainufer E-Mobil", 2)


def test_import_shops_with_bad_rows_stores_nothing_and_reports_each(cli, write_file, catalog,
                                                                     session):
    bad = (GOOD_SHOP.replace("fra-1", "fra-2").replace("50.1127", "95")
           .replace("byd:authorized", "tesla:authorized"))
    bad2 = GOOD_SHOP.replace("fra-1", "fra-3").replace('"Mo-Fr 08:00-18:00; Sa 09:00-13:00"',
                                                       "Mon to Fri 8-6")
    result = cli("import-shops", str(write_file("s.csv", SHOP_HEADER + GOOD_SHOP + bad + bad2)))
    assert result.exit_code != 0
    err = result.stderr if hasattr(result, "stderr") else result.output
    assert "row 3, column lat" in err
    assert "row 3, column brands" in err
    assert "row 4, column opening_hours" in err
    assert err.strip().splitlines()[-1].startswith("Error: 3 rows have errors")
    assert count(session, Shop) == 0


def test_import_shops_refuses_duplicate_external_ids(cli, write_file, catalog, session):
    result = cli("import-shops", str(write_file("s.csv", SHOP_HEADER + GOOD_SHOP * 2)))
    assert result.exit_code != 0
    assert "row 3, column external_id" in result.output
    assert count(session, Shop) == 0


def test_import_shops_refuses_missing_columns(cli, write_file, catalog):
    result = cli("import-shops", str(write_file("s.csv", "external_id,name\nx,y\n")))
    assert result.exit_code != 0
    assert "Missing columns" in result.output


def test_import_parts_builds_supersession_chain_and_fitment(cli, write_file, catalog, session):
    result = cli("import-parts", str(write_file("p.csv", PARTS)))
    assert result.exit_code == 0, result.output
    ids = dict(session.execute(select(Part.part_number, Part.id)).all())
    successors = dict(session.execute(select(Part.part_number, Part.superseded_by_id)).all())
    assert successors["BYD-A"] == ids["BYD-B"] and successors["BYD-B"] == ids["BYD-C"]
    assert successors["BYD-C"] is None
    assert count(session, PartFitment) == 7


def test_import_parts_refuses_a_cycle(cli, write_file, catalog, session):
    cyclic = PARTS.replace("BYD-C,byd,Front brake pad set (rev. C),brakes,,",
                           "BYD-C,byd,Front brake pad set (rev. C),brakes,BYD-A,")
    result = cli("import-parts", str(write_file("p.csv", cyclic)))
    assert result.exit_code != 0
    assert "cycle" in result.output
    assert count(session, Part) == 0


def test_import_parts_refuses_a_cycle_through_the_catalog(cli, write_file, catalog, session):
    cli("import-parts", str(write_file("p.csv", PARTS)))
    closing = ("part_number,brand,name,category,superseded_by,fits\n"
               "BYD-C,byd,Front brake pad set (rev. C),brakes,BYD-A,byd-atto-3\n")
    result = cli("import-parts", str(write_file("q.csv", closing)))
    assert result.exit_code != 0 and "cycle" in result.output
    session.rollback()
    assert session.scalars(select(Part.superseded_by_id)
                           .where(Part.part_number == "BYD-C")).one() is None


def test_import_parts_refuses_models_of_another_brand(cli, write_file, catalog, session):
    wrong = PARTS.replace("MG-1,mg,Cabin air filter,filters,,mg-mg4",
                          "MG-1,mg,Cabin air filter,filters,,byd-seal")
    result = cli("import-parts", str(write_file("p.csv", wrong)))
    assert result.exit_code != 0 and "row 5, column fits" in result.output


@pytest.fixture
def shop_and_parts(cli, write_file, catalog):
    cli("import-shops", str(write_file("shops.csv", SHOP_HEADER + GOOD_SHOP)))
    cli("import-parts", str(write_file("parts.csv", PARTS)))


def stock_rows(session) -> dict[str, tuple]:
    session.rollback()
    return {pn: (qty, str(price), cur) for pn, qty, price, cur in session.execute(
        select(Part.part_number, Stock.qty, Stock.price, Stock.currency)
        .join(Part, Part.id == Stock.part_id)).all()}


def test_import_stock_csv_with_bom_and_semicolons(cli, write_file, shop_and_parts, session):
    data = "\ufeffpart_number;qty;price;currency\nBYD-C;4;49,90;EUR\nBYD-A;0;39.00;EUR\n"
    result = cli("import-stock", str(write_file("s.csv", data.encode("utf-8"))),
                 "--shop", "fra-1")
    assert result.exit_code == 0, result.output
    assert stock_rows(session) == {"BYD-C": (4, "49.90", "EUR"), "BYD-A": (0, "39.00", "EUR")}


def test_import_stock_xlsx(cli, write_file, shop_and_parts, session):
    book = Workbook()
    sheet = book.active
    sheet.append(["shop_external_id", "part_number", "qty", "price", "currency"])
    sheet.append(["fra-1", "MG-1", 12, 15.5, "eur"])
    buf = io.BytesIO()
    book.save(buf)
    result = cli("import-stock", str(write_file("s.xlsx", buf.getvalue())))
    assert result.exit_code == 0, result.output
    assert stock_rows(session) == {"MG-1": (12, "15.50", "EUR")}


def test_import_stock_bad_rows_store_nothing(cli, write_file, shop_and_parts, session):
    data = ("part_number,qty,price,currency\nBYD-C,4,49.90,EUR\nNOPE-1,1,1,EUR\n"
            "BYD-B,-1,1,EUR\nBYD-A,٣,1,EUR\nMG-1,1,1,EURO\n")
    result = cli("import-stock", str(write_file("s.csv", data)), "--shop", "fra-1")
    assert result.exit_code != 0
    for expected in ("row 3, column part_number", "row 4, column qty", "row 5, column qty",
                     "row 6, column currency"):
        assert expected in result.output
    assert stock_rows(session) == {}


def test_import_stock_refuses_other_encodings(cli, write_file, shop_and_parts, session):
    data = "part_number,qty,price,currency\nBYD-C,4,49.90,EUR\n# Größe\n".encode("latin-1")
    result = cli("import-stock", str(write_file("s.csv", data)), "--shop", "fra-1")
    assert result.exit_code != 0 and "UTF-8" in result.output
    assert stock_rows(session) == {}


def test_import_stock_dry_run_stores_nothing(cli, write_file, shop_and_parts, session):
    data = "part_number,qty,price,currency\nBYD-C,4,49.90,EUR\n"
    result = cli("import-stock", str(write_file("s.csv", data)), "--shop", "fra-1", "--dry-run")
    assert result.exit_code == 0 and "created: 1" in result.output
    assert stock_rows(session) == {}


def test_import_stock_replace_removes_unlisted_rows(cli, write_file, shop_and_parts, session):
    cli("import-stock", str(write_file("a.csv", "part_number,qty,price,currency\n"
                                                "BYD-C,4,49.90,EUR\nMG-1,2,9,EUR\n")),
        "--shop", "fra-1")
    result = cli("import-stock", str(write_file("b.csv", "part_number,qty,price,currency\n"
                                                         "MG-1,3,9,EUR\n")),
                 "--shop", "fra-1", "--replace")
    assert "updated: 1, deleted: 1" in result.output
    assert stock_rows(session) == {"MG-1": (3, "9.00", "EUR")}


def test_import_stock_unchanged_rows_keep_their_version(cli, write_file, shop_and_parts,
                                                        session):
    path = write_file("a.csv", "part_number,qty,price,currency\nBYD-C,4,49.90,EUR\n")
    cli("import-stock", str(path), "--shop", "fra-1")
    cli("import-stock", str(path), "--shop", "fra-1")
    changed = write_file("b.csv", "part_number,qty,price,currency\nBYD-C,5,49.90,EUR\n")
    cli("import-stock", str(changed), "--shop", "fra-1")
    session.rollback()
    assert session.scalars(select(Stock.version)).one() == 2


def test_import_stock_unknown_shop(cli, write_file, shop_and_parts):
    data = "part_number,qty,price,currency\nBYD-C,4,49.90,EUR\n"
    result = cli("import-stock", str(write_file("s.csv", data)), "--shop", "nope")
    assert result.exit_code != 0 and "Unknown shop" in result.output


def test_import_stock_refuses_an_xlsx_bomb_quickly(cli, write_file, shop_and_parts):
    import time
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<a>" + b" " * 120_000_000 + b"</a>")
    path = write_file("bomb.xlsx", buf.getvalue())
    assert path.stat().st_size < 1_000_000
    started = time.perf_counter()
    result = cli("import-stock", str(path), "--shop", "fra-1")
    assert time.perf_counter() - started < 1.0
    assert result.exit_code != 0 and "unpacks to more than" in result.output


def test_import_shops_checks_its_file_without_the_write_lock(cli, write_file, catalog,
                                                             database_url, monkeypatch):
    """While another connection holds the write lock, a bad file is still checked and
    reported row by row: the checks take no lock, only the writes do."""
    from sqlalchemy import text

    from service_portal.db import make_engine, writer

    monkeypatch.setenv("LOCK_TIMEOUT_MS", "300")
    bad = GOOD_SHOP.replace("50.1127", "95")
    engine = make_engine(database_url)
    try:
        with writer(engine).connect() as holder:
            holder.begin()  # SQLite: BEGIN IMMEDIATE; PostgreSQL: locks what it writes
            holder.execute(text("UPDATE search_changes SET epoch = epoch"))
            result = cli("import-shops", str(write_file("s.csv", SHOP_HEADER + bad)))
            holder.rollback()
    finally:
        engine.dispose()
    err = result.stderr if hasattr(result, "stderr") else result.output
    assert result.exit_code != 0 and "row 2, column lat" in err
