"""Reads about shops: a dealer's own shop (documents: `shops.documents`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from .models import Shop


def organization_shop(session: Session, shop_id: int, organization_id: int | None):
    """The shop if it belongs to `organization_id`, else None: the one rule by which a
    dealer's pages and API see their own shops only (others look absent)."""
    if organization_id is None:
        return None
    return session.scalars(select(Shop).where(
        Shop.id == shop_id, Shop.organization_id == organization_id)).first()
