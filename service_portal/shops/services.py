"""Writing shops: the all-or-nothing CSV import (matched on `external_id`)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import insert
from sqlmodel import Session, delete, select

from ..audit.actors import Actor
from ..catalog.models import Service
from ..catalog.services import brand_ids, service_ids
from ..db import begin_writing, upsert_by_key, utcnow
from ..tabular import ImportFailed, RowError, Table, require_columns
from .models import Organization, Shop, ShopBrand, ShopLanguage, ShopService
from .schemas import SHOP_COLUMNS, ShopInput, parse_shop_row

SHOP_FIELDS = ("name", "address", "city", "postal_code", "country", "lat", "lon", "timezone",
               "phone", "email", "website", "opening_hours", "hv_level", "hv_valid_until")


def upsert_organizations(session: Session, records: list[dict]) -> tuple[int, int]:
    """Create or update organisations by slug; returns (created, updated). A name is one
    line of text without control characters."""
    from .. import fields
    from ..errors import Invalid

    for record in records:
        try:
            fields.single_line_text(record["name"])
        except ValueError as exc:
            raise Invalid(str(exc), field="name", details=[record["slug"]]) from None
    return upsert_by_key(session, Organization, "slug", records)


def validate_shops(session: Session, table: Table) -> list[ShopInput]:
    """Every row checked; raises ImportFailed listing every bad row, else the shops."""
    require_columns(table, SHOP_COLUMNS)
    brands, services = set(brand_ids(session)), set(service_ids(session))
    shops: list[ShopInput] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, row in table.rows:
        shop, row_errors = parse_shop_row(number, row, brands=brands, services=services)
        errors.extend(row_errors)
        if shop is None:
            continue
        if shop.external_id in seen:
            errors.append(RowError(number, "external_id", _(
                "Duplicate external id; first seen in row %(row)s.", row=seen[shop.external_id])))
            continue
        seen[shop.external_id] = number
        shops.append(shop)
    if errors:
        raise ImportFailed(errors)
    return shops


def import_shops(session: Session, table: Table) -> dict[str, int]:
    """Create or update every shop of `table`, or none of them. Organisations named in the
    file are created when new. Unchanged shops are left untouched (no version bump)."""
    shops = validate_shops(session, table)
    begin_writing(session)  # the checks above held no write lock
    orgs = _organization_ids(session, {s.organization for s in shops})
    brands, services = brand_ids(session), service_ids(session)
    existing = {s.external_id: s for s in session.exec(
        select(Shop).where(Shop.external_id.in_([s.external_id for s in shops])))}
    rows: dict[str, Shop] = {}
    changed: set[str] = set()
    for item in shops:
        values = {f: getattr(item, f) for f in SHOP_FIELDS}
        values["organization_id"] = orgs[item.organization]
        shop = existing.get(item.external_id)
        if shop is None:
            shop = Shop(external_id=item.external_id, **values)
            session.add(shop)
        else:
            diff = {k: v for k, v in values.items() if getattr(shop, k) != v}
            for k, v in diff.items():
                setattr(shop, k, v)
            if diff:
                changed.add(item.external_id)
        rows[item.external_id] = shop
    session.flush()
    wanted = {rows[i.external_id].id: _links(i, brands, services) for i in shops}
    by_id = {shop.id: external_id for external_id, shop in rows.items()}
    changed.update(by_id[shop_id] for shop_id in _replace_links(session, wanted))
    created = len(shops) - len(existing)
    updated = len(changed & existing.keys())
    now = utcnow()
    for external_id in changed & existing.keys():
        rows[external_id].version += 1
        rows[external_id].updated_at = now
    session.flush()
    return {"created": created, "updated": updated, "unchanged": len(shops) - created - updated}


#: Link tables of a shop: (model, column holding the linked value, value column of the link).
_LINK_TABLES = ((ShopBrand, "brand_id"), (ShopService, "service_id"), (ShopLanguage, "language"))


def _links(item: ShopInput, brands: dict[str, int], services: dict[str, int]) -> tuple[set, ...]:
    """The shop's wanted link rows per link table, as comparable sets."""
    return ({(brands[b], level) for b, level in item.brands.items()},
            {(services[s],) for s in item.services},
            {(lang,) for lang in item.languages})


def _replace_links(session: Session, wanted: dict[int, tuple[set, ...]]) -> set[int]:
    """Make each shop's brands, services and languages those wanted, with a few bulk
    statements; returns the ids of the shops whose links changed."""
    changed: set[int] = set()
    shop_ids = list(wanted)
    for index, (model, column) in enumerate(_LINK_TABLES):
        extra = (model.level,) if model is ShopBrand else ()
        have: dict[int, set] = {}
        for shop_id, value, *rest in session.exec(
                select(model.shop_id, getattr(model, column), *extra)
                .where(model.shop_id.in_(shop_ids))).all():
            have.setdefault(shop_id, set()).add((value, *rest))
        stale = [sid for sid in shop_ids if have.get(sid, set()) != wanted[sid][index]]
        if not stale:
            continue
        changed.update(stale)
        session.exec(delete(model).where(model.shop_id.in_(stale)))
        keys = (column, "level") if model is ShopBrand else (column,)
        rows = [{"shop_id": sid, **dict(zip(keys, values, strict=True))}
                for sid in stale for values in wanted[sid][index]]
        if rows:
            session.execute(insert(model), rows)
    return changed


def _organization_ids(session: Session, slugs: set[str]) -> dict[str, int]:
    known = dict(session.exec(select(Organization.slug, Organization.id)
                              .where(Organization.slug.in_(slugs))).all())
    for slug in sorted(slugs - known.keys()):
        org = Organization(slug=slug, name=slug.replace("-", " ").title())
        session.add(org)
        session.flush()
        known[slug] = org.id
    return known




def update_profile(session: Session, shop: Shop, *, version: int, values: dict,
                   services: list[str], languages: list[str], actor: Actor) -> None:
    """Change a shop's profile if it is still at `version` (409 otherwise); phone numbers
    are checked for the shop's country and stored in E.164; every change is audited."""
    from sqlalchemy import update

    from .. import fields
    from ..audit.services import record
    from ..errors import Conflict, Invalid

    if values.get("phone"):
        try:
            values["phone"] = fields.phone_e164(values["phone"], shop.country)
        except ValueError as exc:
            raise Invalid(str(exc), field="phone") from None
    known = service_ids(session)
    unknown = [s for s in services if s not in known]
    if unknown:
        raise Invalid(_("Unknown service: %(value)s", value=", ".join(unknown)),
                      field="services")
    before = {k: _plain(getattr(shop, k)) for k in values}
    before_links = shop_links(session, shop.id)
    result = session.execute(update(Shop).where(Shop.id == shop.id, Shop.version == version)
                             .values(**values, version=Shop.version + 1, updated_at=utcnow()))
    if result.rowcount != 1:
        raise Conflict(field="version")
    brands = {b: lv for b, lv in session.exec(
        select(ShopBrand.brand_id, ShopBrand.level).where(ShopBrand.shop_id == shop.id)).all()}
    _replace_links(session, {shop.id: ({(b, lv) for b, lv in brands.items()},
                                       {(known[s],) for s in services},
                                       {(lang,) for lang in languages})})
    record(session, actor=actor, action="shop.profile", entity_type="shop",
           entity_id=shop.id, before={**before, **before_links},
           after={**{k: _plain(v) for k, v in values.items()},
                  "services": sorted(services), "languages": sorted(languages)})
    session.expire_all()


def shop_links(session: Session, shop_id: int) -> dict:
    services = session.exec(select(Service.slug).join(ShopService,
                                                      ShopService.service_id == Service.id)
                            .where(ShopService.shop_id == shop_id)).all()
    languages = session.exec(select(ShopLanguage.language)
                             .where(ShopLanguage.shop_id == shop_id)).all()
    return {"services": sorted(services), "languages": sorted(languages)}


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else value
