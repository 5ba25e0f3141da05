"""Reads for the front page."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from ..catalog.models import Brand
from ..shops.models import Shop


def portal_counts(session: Session) -> dict[str, int]:
    """How many brands, active shops and countries the portal covers."""
    shops, countries = session.execute(
        select(func.count(Shop.id), func.count(func.distinct(Shop.country)))
        .where(Shop.active.is_(True))
    ).one()
    brands = session.scalar(select(func.count(Brand.id)))
    return {"brands": brands or 0, "shops": shops or 0, "countries": countries or 0}
