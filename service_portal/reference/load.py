"""Loading the reference catalog (brands, models, services, WMI codes, markets) into the
database.

Idempotent: a second run creates and updates nothing. A row an operator edited in the
admin area (`edited_by` set) is never touched; rows written here keep `edited_by` empty.
Every file is checked before anything is written: a bad row anywhere stores nothing and
names the file, row and column (ImportFailed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask_babel import gettext as _
from sqlmodel import Session, select

from .. import fields
from ..audit.actors import Actor
from ..audit.services import record
from ..catalog.models import POWERTRAINS, Brand
from ..catalog.services import (
    COUNT_KEYS,
    upsert_brands,
    upsert_services,
    upsert_vehicle_models,
    upsert_wmi_codes,
)
from ..markets.services import load_markets
from ..tabular import ImportFailed, RowChecker, RowError
from . import REFERENCE_DIR, read_rows, wmi_brands_of

#: The audit action of a load that changed something (entity `import`, id `reference`).
LOAD_ACTION = "reference.load"
#: The kinds of rows, in loading order, with their files.
FILES = {"brands": "brands.csv", "models": "models.csv", "services": "services.csv",
         "wmi codes": "wmi.csv"}
_COLUMNS = {
    "brands": ("slug", "name", "parent_group", "website"),
    "models": ("slug", "brand", "name", "year_from", "year_to", "powertrain",
               "battery_chemistry", "body"),
    "services": ("slug", "name"),
    "wmi codes": ("code", "brands", "source", "note"),
}
_WMI = re.compile(r"[A-HJ-NPR-Z0-9]{3}")

Report = dict[str, dict[str, int]]


def load_reference(session: Session, actor: Actor, *, directory: Path = REFERENCE_DIR,
                   progress: Callable[[str, dict[str, int]], None] | None = None) -> Report:
    """Create or update the reference rows of `directory`'s files, leaving the rows an
    operator edited as they are. Returns per kind the counts of `COUNT_KEYS`; `progress`
    hears each kind's counts as it is done. One audit entry (`reference.load`, with the
    counts) when anything was created or updated. Flushes, never commits."""
    records = _checked_files(session, directory)
    loaders = {"brands": upsert_brands, "models": upsert_vehicle_models,
               "services": upsert_services, "wmi codes": upsert_wmi_codes}
    report: Report = {}
    for kind, loader in loaders.items():
        report[kind] = loader(session, records[kind])
        if progress is not None:
            progress(kind, report[kind])
    report["markets"] = load_markets(session, actor, path=directory / "markets.csv",
                                     audit=False)  # markets.csv, by its own rules
    if progress is not None:
        progress("markets", report["markets"])
    if changed_anything(report):
        record(session, actor=actor, action=LOAD_ACTION, entity_type="import",
               entity_id="reference", after={kind: dict(counts)
                                              for kind, counts in report.items()})
    return report


def changed_anything(report: Report) -> bool:
    return any(counts["created"] or counts["updated"] for counts in report.values())


def totals(report: Report) -> dict[str, int]:
    """The counts of every kind added up."""
    return {key: sum(counts[key] for counts in report.values()) for key in COUNT_KEYS}


def reference_loaded(session: Session) -> bool:
    """Whether the catalog has brands at all (init-db loaded the reference catalog)."""
    return session.exec(select(Brand.id).limit(1)).first() is not None


# --- checking the files ------------------------------------------------------------------

def _checked_files(session: Session, directory: Path) -> dict[str, list[dict]]:
    """Every file's rows as records for the loaders; all files are checked first."""
    errors: list[RowError] = []
    rows: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for kind, name in FILES.items():
        path = directory / name
        if not path.is_file():
            errors.append(RowError(0, name, _("Missing file: %(name)s", name=str(path))))
            continue
        rows[kind] = read_rows(path)
        header = set(rows[kind][0][1]) if rows[kind] else set(_COLUMNS[kind])
        missing = [c for c in _COLUMNS[kind] if c not in header]
        if missing:
            errors.append(RowError(1, f"{name}: {', '.join(missing)}",
                                   _("Missing columns: %(columns)s", columns=", ".join(missing))))
    if errors:
        raise ImportFailed(errors)
    brands = set(session.exec(select(Brand.slug)).all()) | {
        row.get("slug", "").strip() for _n, row in rows["brands"]}
    records: dict[str, list[dict]] = {}
    for kind, parse in (("brands", _brand), ("models", _model), ("services", _service),
                        ("wmi codes", _wmi)):
        records[kind] = []
        seen: dict[str, int] = {}
        key = "code" if kind == "wmi codes" else "slug"
        for number, row in rows[kind]:
            check = _Checker(FILES[kind], number, row)
            values = parse(check, brands)
            if values is not None and values[key] in seen:
                check.add(key, _("Duplicate; first seen in row %(row)s.", row=seen[values[key]]))
            errors.extend(check.errors)
            if values is not None and not check.errors:
                seen[values[key]] = number
                records[kind].append(values)
    if errors:
        raise ImportFailed(errors)
    return records


class _Checker(RowChecker):
    """A row checker whose errors name the file as well as the column."""

    def __init__(self, name: str, number: int, row: dict[str, str]) -> None:
        super().__init__(number, row)
        self.name = name

    def add(self, column: str | None, message: str) -> None:
        super().add(f"{self.name}: {column}", message)

    def text(self, column: str, *, max_length: int, required: bool = True) -> str | None:
        def parse(value: str) -> str:
            if len(value) > max_length:
                raise ValueError(_("At most %(num)s characters.", num=max_length))
            return fields.single_line_text(value)

        return self(column, parse, required=required)


def _brand(check: _Checker, _brands: set[str]) -> dict | None:
    values = {"slug": check("slug", fields.slug, required=True),
              "name": check.text("name", max_length=80),
              "parent_group": check.text("parent_group", max_length=120, required=False),
              "website": check("website", fields.web_link)}
    return None if check.errors else values


def _model(check: _Checker, brands: set[str]) -> dict | None:
    def brand(value: str) -> str:
        if value not in brands:
            raise ValueError(_("Unknown brand: %(value)s", value=value))
        return value

    def powertrain(value: str) -> str:
        if value not in POWERTRAINS:
            raise ValueError(_("This value is not valid."))
        return value

    values = {"slug": check("slug", fields.slug, required=True),
              "brand": check("brand", brand, required=True),
              "name": check.text("name", max_length=80),
              "year_from": check("year_from", fields.whole_number, required=True),
              "year_to": check("year_to", fields.whole_number),
              "powertrain": check("powertrain", powertrain, required=True),
              "battery_chemistry": check("battery_chemistry", fields.slug, required=True),
              "body": check("body", fields.slug)}
    if not check.errors and values["year_to"] is not None \
            and values["year_to"] < values["year_from"]:
        check.add("year_to", _("The last model year cannot come before the first."))
    return None if check.errors else values


def _service(check: _Checker, _brands: set[str]) -> dict | None:
    values = {"slug": check("slug", fields.slug, required=True),
              "name": check.text("name", max_length=120)}
    return None if check.errors else values


def _wmi(check: _Checker, brands: set[str]) -> dict | None:
    def code(value: str) -> str:
        if not _WMI.fullmatch(value.upper()):
            raise ValueError(_("A WMI is the first three characters of a VIN: digits and "
                               "capital letters without I, O and Q."))
        return value.upper()

    def brand_list(value: str) -> list[str]:
        slugs = list(wmi_brands_of({"brands": value}))
        unknown = [slug for slug in slugs if slug not in brands]
        if unknown:
            raise ValueError(_("Unknown brand: %(value)s", value=", ".join(unknown)))
        return sorted(set(slugs))

    values = {"code": check("code", code, required=True),
              "brands": check("brands", brand_list, required=True),
              "source": check.text("source", max_length=500),
              "note": check("note", _note) or ""}
    return None if check.errors else values


def _note(value: str) -> str:
    if len(value) > 1000:
        raise ValueError(_("At most %(num)s characters.", num=1000))
    return fields.multi_line_text(value)
