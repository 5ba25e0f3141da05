"""What the evidence shows: which of a shop's claims are verified today, the dealer's list
of a shop's evidence, and the staff's review list."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func, or_, select
from sqlmodel import Session

from ..catalog.models import Brand
from ..shops.models import HV_RANK, Organization, Shop
from .models import Credential

#: The review list's states, the default first.
REVIEW_STATES = ("pending", "verified", "rejected")


def verified_claims(session: Session, shop_ids: list[int],
                    today: date) -> dict[int, dict[str, set]]:
    """For each shop, the brand slugs and HV levels backed by verified evidence valid on
    `today` (evidence without an end date stays valid): `{"brands": {...}, "hv": {...}}`."""
    claims: dict[int, dict[str, set]] = defaultdict(lambda: {"brands": set(), "hv": set()})
    if not shop_ids:
        return claims
    rows = session.execute(
        select(Credential.shop_id, Credential.kind, Brand.slug, Credential.hv_level)
        .outerjoin(Brand, Brand.id == Credential.brand_id)
        .where(Credential.shop_id.in_(shop_ids), Credential.state == "verified",
               or_(Credential.valid_until.is_(None), Credential.valid_until >= today)))
    for shop_id, kind, brand, level in rows:
        claims[shop_id]["brands" if kind == "brand" else "hv"].add(
            brand if kind == "brand" else level)
    return claims


def with_verification(doc: dict, claims: dict[str, set] | None) -> dict:
    """`doc` (a shop document) with `verified` on each brand authorisation and
    `hv_verified`: true only when verified, unexpired evidence backs the claim (for the HV
    level, a certificate at the declared level or above)."""
    claims = claims or {"brands": set(), "hv": set()}
    declared = HV_RANK.get(doc.get("hv_level") or "none", 0)
    return {**doc,
            "brands": [{**b, "verified": b["brand"] in claims["brands"]}
                       for b in doc.get("brands", [])],
            "hv_verified": declared > 0 and any(HV_RANK[level] >= declared
                                                for level in claims["hv"])}


def shop_evidence(session: Session, shop_id: int) -> list[tuple[Credential, str | None]]:
    """A shop's evidence, newest first, each with its brand's name."""
    return list(session.execute(
        select(Credential, Brand.name).outerjoin(Brand, Brand.id == Credential.brand_id)
        .where(Credential.shop_id == shop_id)
        .order_by(Credential.uploaded_at.desc(), Credential.id.desc())).all())


def review_list(session: Session, *, state: str, offset: int,
                limit: int) -> tuple[int, list[tuple]]:
    """(total, rows) of evidence in `state`, oldest upload first for pending (first come,
    first served), newest first otherwise; each row is (credential, shop name, shop
    country, organisation name, brand name)."""
    where = Credential.state == state
    total = session.scalar(select(func.count()).select_from(Credential).where(where))
    order = (Credential.uploaded_at.asc() if state == "pending"
             else Credential.reviewed_at.desc())
    rows = session.execute(
        select(Credential, Shop.name, Shop.country, Organization.name, Brand.name)
        .join(Shop, Shop.id == Credential.shop_id)
        .join(Organization, Organization.id == Shop.organization_id)
        .outerjoin(Brand, Brand.id == Credential.brand_id)
        .where(where).order_by(order, Credential.id).offset(offset).limit(limit)).all()
    return total or 0, list(rows)


def review_details(session: Session, credential_id: int) -> tuple | None:
    """(credential, shop, organisation name, brand name) or None."""
    return session.execute(
        select(Credential, Shop, Organization.name, Brand.name)
        .join(Shop, Shop.id == Credential.shop_id)
        .join(Organization, Organization.id == Shop.organization_id)
        .outerjoin(Brand, Brand.id == Credential.brand_id)
        .where(Credential.id == credential_id)).first()
