"""The reference catalog apart from the demo data: `init-db` loads it, a reload leaves the
rows an operator edited alone, and the WMI table decides which brand a VIN names."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from service_portal.audit.actors import Actor
from service_portal.audit.models import AuditEntry
from service_portal.catalog.models import Brand, Service, VehicleModel, WmiCode
from service_portal.catalog.vin import decode_vin
from service_portal.reference import REFERENCE_DIR
from service_portal.reference.load import LOAD_ACTION, load_reference
from service_portal.shops.models import Shop
from service_portal.tabular import ImportFailed
from tests.conftest import PG_URL

SHOP_CSV = ("external_id,name,organization,brands,services,languages,address,city,"
            "postal_code,country,lat,lon,timezone,phone,email,website,opening_hours\n"
            "osl-1,Fjord Elbil,fjord-elbil,byd:authorized,maintenance;hv-battery,nb;en,"
            "Drammensveien 1,Oslo,0250,NO,59.91,10.73,,,,,Mo-Fr 08:00-16:00\n")
OPERATOR = "ops@portal.example (web)"


def rows_in(name: str) -> int:
    with (REFERENCE_DIR / name).open(encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


REFERENCE_ROWS = sum(rows_in(name) for name in ("brands.csv", "models.csv", "services.csv",
                                                 "wmi.csv", "markets.csv"))


@pytest.fixture
def reference(tmp_path):
    """A copy of the shipped reference files the test may change."""
    folder = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


def rewrite(path, change) -> None:
    """Rewrite a CSV file, passing each row (a dict) through `change`."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames, [change(dict(row)) for row in reader]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def load(session, folder=REFERENCE_DIR) -> dict:
    report = load_reference(session, Actor.command_line("test"), directory=folder)
    session.commit()
    return report


@pytest.fixture
def fresh_cli(cli, monkeypatch, tmp_path):
    """The command against a database with nothing in it: on SQLite an empty file (no
    schema either, as on a new server), on PostgreSQL the test's emptied database."""
    if PG_URL:
        return cli
    from service_portal.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    return lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_db_then_import_shops_works_on_a_fresh_database(fresh_cli, write_file):
    done = fresh_cli("init-db")
    assert done.exit_code == 0, done.output
    assert f"Reference catalog: {REFERENCE_ROWS} created, 0 updated, 0 unchanged" in done.output
    imported = fresh_cli("import-shops", str(write_file("shops.csv", SHOP_CSV)))
    assert imported.exit_code == 0, imported.output
    assert "shops: created: 1, updated: 0, unchanged: 0" in imported.output


def test_load_reference_twice_changes_nothing_the_second_time(cli, session):
    assert cli("init-db").exit_code == 0
    session.rollback()
    before = {model: sorted(map(repr, session.execute(select(model.__table__)).all()))
              for model in (Brand, VehicleModel, Service, WmiCode, AuditEntry)}
    again = cli("load-reference")
    assert again.exit_code == 0, again.output
    assert (f"Reference catalog: 0 created, 0 updated, {REFERENCE_ROWS} unchanged"
            in again.output)
    assert "Nothing to change." in again.output
    session.rollback()
    assert before == {model: sorted(map(repr, session.execute(select(model.__table__)).all()))
                      for model in (Brand, VehicleModel, Service, WmiCode, AuditEntry)}


def test_a_load_is_audited_once_with_its_counts(session):
    load(session)
    load(session)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == LOAD_ACTION)).all()
    assert len(entries) == 1
    assert entries[0].actor_label == "test (command line)"
    assert entries[0].after["brands"] == {"created": 12, "updated": 0, "unchanged": 0,
                                          "kept": 0}
    assert entries[0].after["wmi codes"]["created"] == rows_in("wmi.csv")


def test_loaded_rows_are_nobodys_edit(session):
    load(session)
    for model in (Brand, VehicleModel, Service, WmiCode):
        assert session.scalar(select(func.count()).select_from(model)
                              .where(model.edited_by.is_not(None))) == 0
    assert session.get(WmiCode, "L6T").brands == ["geely", "zeekr"]
    seal = session.scalar(select(VehicleModel).where(VehicleModel.slug == "byd-seal"))
    assert seal.year_from >= 2020 and seal.powertrain == "bev"


def edit(session, row, **values) -> None:
    """What the admin pages do: the values, stamped as the operator's, version moved."""
    for name, value in values.items():
        setattr(row, name, value)
    row.edited_by, row.edited_at = OPERATOR, datetime.now(UTC)
    row.version += 1
    session.commit()


def test_a_reload_keeps_what_an_operator_edited(session, reference):
    load(session, reference)
    byd = session.scalar(select(Brand).where(Brand.slug == "byd"))
    edit(session, byd, name="BYD Auto", names={"zh_Hans": "比亚迪"})
    seal = session.scalar(select(VehicleModel).where(VehicleModel.slug == "byd-seal"))
    edit(session, seal, year_from=2021)
    lgx = session.get(WmiCode, "LGX")
    edit(session, lgx, note="Checked against the owner's registration papers.")
    versions = [row.version for row in (byd, seal, lgx)]

    def brands(row):
        return {**row, "name": row["name"] + " (new)"} if row["slug"] in ("byd", "nio") \
            else row

    rewrite(reference / "brands.csv", brands)
    rewrite(reference / "models.csv", lambda row: {**row, "year_from": "2019"}
            if row["slug"] in ("byd-seal", "byd-dolphin") else row)
    rewrite(reference / "wmi.csv", lambda row: {**row, "note": row["note"] + " Re-checked."}
            if row["code"] in ("LGX", "LC0") else row)
    report = load(session, reference)

    assert report["brands"] == {"created": 0, "updated": 1, "unchanged": 10, "kept": 1}
    assert report["models"]["updated"] == 1 and report["models"]["kept"] == 1
    assert report["wmi codes"]["updated"] == 1 and report["wmi codes"]["kept"] == 1
    session.expire_all()
    assert (byd.name, byd.names, byd.edited_by) == ("BYD Auto", {"zh_Hans": "比亚迪"}, OPERATOR)
    assert seal.year_from == 2021
    assert lgx.note == "Checked against the owner's registration papers."
    assert [row.version for row in (byd, seal, lgx)] == versions
    # What the operator did not edit follows the file, stays nobody's edit, and a form
    # opened before the reload is now stale (its version moved).
    nio = session.scalar(select(Brand).where(Brand.slug == "nio"))
    assert (nio.name, nio.edited_by, nio.version) == ("NIO (new)", None, 2)
    dolphin = session.scalar(select(VehicleModel).where(VehicleModel.slug == "byd-dolphin"))
    assert dolphin.year_from == 2019 and dolphin.edited_by is None
    assert session.get(WmiCode, "LC0").note.endswith("Re-checked.")


def test_an_operators_own_rows_are_left_alone(session, make):
    make.brand("acme-ev", name="Acme EV")
    load(session)
    assert session.scalar(select(Brand.name).where(Brand.slug == "acme-ev")) == "Acme EV"


def test_a_bad_reference_file_stores_nothing_and_names_file_row_and_column(session,
                                                                          reference):
    rewrite(reference / "models.csv", lambda row: {**row, "powertrain": "steam"}
            if row["slug"] == "byd-seal" else row)
    rewrite(reference / "wmi.csv", lambda row: {**row, "brands": "byd tesla"}
            if row["code"] == "LGX" else row)
    with pytest.raises(ImportFailed) as failed:
        load_reference(session, Actor.command_line("test"), directory=reference)
    session.rollback()
    where = {(error.column, error.row) for error in failed.value.errors}
    assert ("models.csv: powertrain", _row_of(reference / "models.csv", "slug", "byd-seal")) \
        in where
    assert ("wmi.csv: brands", _row_of(reference / "wmi.csv", "code", "LGX")) in where
    assert any("tesla" in error.message for error in failed.value.errors)
    assert session.scalar(select(func.count()).select_from(Brand)) == 0


def _row_of(path, column: str, value: str) -> int:
    with path.open(encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            if row[column] == value:
                return number
    raise AssertionError(value)


def test_seed_without_the_reference_catalog_says_to_run_init_db(cli, session):
    result = cli("seed")
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert "init-db" in result.output
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Shop)) == 0


# --- the WMI table drives VIN decoding ---------------------------------------------------

NEW_CODE_VIN = "L9ZCE4CB0R0000001"  # a code neither vininfo nor the reference lists
MG_VIN = "LSJA24U68NS000004"  # LSJ: vininfo's SAIC MG


def test_without_a_table_a_new_code_names_no_brand():
    assert decode_vin(NEW_CODE_VIN).brand is None
    assert decode_vin(NEW_CODE_VIN, wmis={"L9Z": ("nio",)}).brand == "nio"


def test_a_wmi_row_added_names_its_brand(client, session):
    load(session)
    assert client.get(f"/api/v1/vin/{NEW_CODE_VIN}").json["brand"] is None
    session.add(WmiCode(code="L9Z", brands=["nio"], source="test", edited_by=OPERATOR))
    session.commit()
    body = client.get(f"/api/v1/vin/{NEW_CODE_VIN}").json
    assert (body["wmi"], body["brand"], body["brands"]) == ("L9Z", "nio", ["nio"])


def test_a_wmi_row_overrides_vininfo(client, session):
    load(session)
    assert client.get(f"/api/v1/vin/{MG_VIN}").json["brand"] == "mg"  # vininfo's answer
    session.add(WmiCode(code="LSJ", brands=["mg", "byd"], source="test"))
    session.commit()
    body = client.get(f"/api/v1/vin/{MG_VIN}").json
    assert body["brand"] is None and body["brands"] == ["mg", "byd"]


def test_a_wmi_row_deleted_no_longer_names_its_brand(client, session):
    load(session)
    assert client.get("/api/v1/vin/LFZ63AL52RD000123").json["brand"] == "leapmotor"
    session.delete(session.get(WmiCode, "LFZ"))
    session.commit()
    assert client.get("/api/v1/vin/LFZ63AL52RD000123").json["brand"] is None
