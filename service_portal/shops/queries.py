"""Reads about shops: which shops owners see, a dealer's own shop (documents:
`shops.documents`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, select
from sqlmodel import Session

from .models import Organization, Shop


def listed_shop() -> ColumnElement[bool]:
    """Whether a shop shows to owners (search, shop page, new cases): it and its
    organisation are both active. Deactivating an organisation leaves its shops' own
    flags alone, so reactivating it brings back exactly the shops that were active. The
    search index reads the same rule in SQL (`search.changes._SHOPS`)."""
    return and_(Shop.active.is_(True),
                exists().where(Organization.id == Shop.organization_id,
                               Organization.active.is_(True)))


def organization_shop(session: Session, shop_id: int, organization_id: int | None):
    """The shop if it belongs to `organization_id`, else None: the one rule by which a
    dealer's pages and API see their own shops only (others look absent)."""
    if organization_id is None:
        return None
    return session.scalars(select(Shop).where(
        Shop.id == shop_id, Shop.organization_id == organization_id)).first()
