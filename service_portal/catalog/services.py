"""Loading the catalog: brands, vehicle models, services and WMI codes, matched on their
keys (slugs, codes), as the reference catalog brings them.

A row an operator edited in the admin area (`edited_by` set) is theirs: loading leaves it
as they left it and counts it as `kept` when the loaded values differ. Rows written here
keep `edited_by` empty; an update moves `version` (an edit form opened before it is then
stale: 409). Writes through the ORM reach the search index's catalog change feed by the
tables' triggers (migration 0006), as every other write does."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, select

from .models import POWERTRAINS, Brand, Service, VehicleModel, WmiCode

#: What each loader returns: rows created, updated, unchanged, and kept (edited by an
#: operator, left alone although the loaded values differ).
COUNT_KEYS = ("created", "updated", "unchanged", "kept")


def upsert_reference(session: Session, model: type, key: str,
                     records: list[dict]) -> dict[str, int]:
    """Create or update rows of `model` matched on the unique column `key`, leaving
    operator-edited rows alone; a row is only written when a value differs, so loading
    the same records twice changes nothing. Flushes, never commits."""
    column = getattr(model, key)
    existing = {getattr(row, key): row for row in session.exec(
        select(model).where(column.in_([r[key] for r in records])))}
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for record in records:
        row = existing.get(record[key])
        if row is None:
            session.add(model(**record))
            counts["created"] += 1
            continue
        changed = {k: v for k, v in record.items() if getattr(row, k) != v}
        if not changed:
            counts["unchanged"] += 1
        elif row.edited_by is not None:
            counts["kept"] += 1
        else:
            # Guarded by the version read, as a form's write is: an operator's edit
            # committed in between is never overwritten (the loader then counts a kept row).
            result = session.execute(update(model).where(
                column == record[key], model.version == row.version,
                model.edited_by.is_(None)).values(**changed, version=model.version + 1))
            counts["updated" if result.rowcount == 1 else "kept"] += 1
    session.flush()
    session.expire_all()
    return counts


def upsert_brands(session: Session, records: list[dict]) -> dict[str, int]:
    """Brands by slug (`slug`, `name`, `parent_group`, `website`)."""
    return upsert_reference(session, Brand, "slug", [
        {"slug": r["slug"], "name": r["name"], "parent_group": r.get("parent_group") or None,
         "website": r.get("website") or None} for r in records])


def upsert_services(session: Session, records: list[dict]) -> dict[str, int]:
    """Services by slug (`slug`, English `name`)."""
    return upsert_reference(session, Service, "slug",
                            [{"slug": r["slug"], "name": r["name"]} for r in records])


def upsert_vehicle_models(session: Session, records: list[dict]) -> dict[str, int]:
    """Models by slug; `brand` is a brand slug, years end open when `year_to` is empty."""
    brands = brand_ids(session)
    rows = []
    for r in records:
        if r["powertrain"] not in POWERTRAINS:
            raise ValueError(f"model {r['slug']}: unknown powertrain {r['powertrain']!r}")
        rows.append({
            "slug": r["slug"], "brand_id": brands[r["brand"]], "name": r["name"],
            "year_from": int(r["year_from"]),
            "year_to": int(r["year_to"]) if r.get("year_to") else None,
            "powertrain": r["powertrain"], "battery_chemistry": r["battery_chemistry"],
            "body": r.get("body") or None,
        })
    return upsert_reference(session, VehicleModel, "slug", rows)


def upsert_wmi_codes(session: Session, records: list[dict]) -> dict[str, int]:
    """WMI codes by code (`code`, `brands` as a list of brand slugs, `source`, `note`)."""
    return upsert_reference(session, WmiCode, "code", [
        {"code": r["code"], "brands": list(r["brands"]), "source": r["source"],
         "note": r.get("note") or ""} for r in records])


def brand_ids(session: Session) -> dict[str, int]:
    """Brand slug -> id."""
    return dict(session.exec(select(Brand.slug, Brand.id)).all())


def service_ids(session: Session) -> dict[str, int]:
    return dict(session.exec(select(Service.slug, Service.id)).all())


def model_index(session: Session) -> dict[str, tuple[int, int]]:
    """Model slug -> (model id, brand id)."""
    return {slug: (mid, bid) for slug, mid, bid in session.exec(
        select(VehicleModel.slug, VehicleModel.id, VehicleModel.brand_id)).all()}
