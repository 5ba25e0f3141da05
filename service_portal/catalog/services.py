"""Loading the catalog: brands, vehicle models and services, matched on their slugs."""

from __future__ import annotations

from sqlmodel import Session, select

from ..db import upsert_by_key
from .models import POWERTRAINS, Brand, Service, VehicleModel


def upsert_brands(session: Session, records: list[dict]) -> tuple[int, int]:
    """Create or update brands by slug; returns (created, updated)."""
    return upsert_by_key(session, Brand, "slug", records)


def upsert_services(session: Session, records: list[dict]) -> tuple[int, int]:
    return upsert_by_key(session, Service, "slug", records)


def upsert_vehicle_models(session: Session, records: list[dict]) -> tuple[int, int]:
    """Create or update models by slug; `brand` is a brand slug, years end open when empty."""
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
    return upsert_by_key(session, VehicleModel, "slug", rows)


def brand_ids(session: Session) -> dict[str, int]:
    """Brand slug -> id."""
    return dict(session.exec(select(Brand.slug, Brand.id)).all())


def service_ids(session: Session) -> dict[str, int]:
    return dict(session.exec(select(Service.slug, Service.id)).all())


def model_index(session: Session) -> dict[str, tuple[int, int]]:
    """Model slug -> (model id, brand id)."""
    return {slug: (mid, bid) for slug, mid, bid in session.exec(
        select(VehicleModel.slug, VehicleModel.id, VehicleModel.brand_id)).all()}
