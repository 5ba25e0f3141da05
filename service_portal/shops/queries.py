"""Reads about shops: resolving a search's names, and shop documents as the API shows them."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlmodel import Session

from ..catalog.models import Brand, Service, VehicleModel
from ..errors import Invalid
from ..parts.models import Part, Stock
from ..parts.queries import money
from .models import Organization, Shop, ShopBrand, ShopLanguage, ShopService
from .search import SearchQuery
from .search_params import SearchParams


def resolve_search(session: Session, params: SearchParams, *, lat: float, lon: float,
                   now: datetime | None = None) -> SearchQuery:
    """Turn checked parameters into ids; an unknown brand, model, service or part is a 422
    naming the parameter. A model implies its brand; a part brings its successors."""
    brand_id = None
    if params.model:
        row = session.execute(select(VehicleModel.brand_id, Brand.slug)
                              .join(Brand, Brand.id == VehicleModel.brand_id)
                              .where(VehicleModel.slug == params.model)).first()
        if row is None:
            raise Invalid(_("Unknown model: %(value)s", value=params.model),
                          code="unknown_model", field="model")
        if params.brand and params.brand != row.slug:
            raise Invalid(_("The model %(model)s is not a %(brand)s.", model=params.model,
                            brand=params.brand), code="model_brand_mismatch", field="model")
        brand_id = row.brand_id
    elif params.brand:
        brand_id = session.scalar(select(Brand.id).where(Brand.slug == params.brand))
        if brand_id is None:
            raise Invalid(_("Unknown brand: %(value)s", value=params.brand),
                          code="unknown_brand", field="brand")
    service_ids = []
    if params.services:
        known = dict(session.execute(select(Service.slug, Service.id)
                                     .where(Service.slug.in_(params.services))).all())
        unknown = [s for s in params.services if s not in known]
        if unknown:
            raise Invalid(_("Unknown service: %(value)s", value=", ".join(unknown)),
                          code="unknown_service", field="service")
        service_ids = [known[s] for s in params.services]
    return SearchQuery(
        lat=lat, lon=lon, radius_km=params.radius_km, limit=params.limit, offset=params.offset,
        sort=params.sort, brand_id=brand_id, min_level=params.authorization,
        service_ids=service_ids, part_chains=[part_chain(session, pn) for pn in params.parts],
        language=params.language, hv_min=params.hv_level, open_now=params.open_now,
        now=now or datetime.now(UTC))


def part_chain(session: Session, part_number: str) -> list[int]:
    """The part's id followed by its successors' ids (A -> B -> C), newest last."""
    start = session.scalar(select(Part.id).where(Part.part_number == part_number))
    if start is None:
        raise Invalid(_("Unknown part number: %(value)s", value=part_number),
                      code="unknown_part", field="part")
    chain = [start]
    while True:
        nxt = session.scalar(select(Part.superseded_by_id).where(Part.id == chain[-1]))
        if nxt is None or nxt in chain:
            return chain
        chain.append(nxt)


_IDS = bindparam("ids", expanding=True)
# Built once: each is compiled once and cached, whatever the number of ids.
_SHOPS = (select(Shop.id, Shop.external_id, Shop.name, Organization.slug, Shop.address,
                 Shop.city, Shop.postal_code, Shop.country, Shop.lat, Shop.lon, Shop.timezone,
                 Shop.phone, Shop.email, Shop.website, Shop.opening_hours, Shop.hv_level,
                 Shop.hv_valid_until)
          .join(Organization, Organization.id == Shop.organization_id)
          .where(Shop.id.in_(_IDS)))
_BRANDS = (select(ShopBrand.shop_id, Brand.slug, ShopBrand.level)
           .join(Brand, Brand.id == ShopBrand.brand_id)
           .where(ShopBrand.shop_id.in_(_IDS)).order_by(Brand.slug))
_SERVICES = (select(ShopService.shop_id, Service.slug)
             .join(Service, Service.id == ShopService.service_id)
             .where(ShopService.shop_id.in_(_IDS)).order_by(Service.id))
_LANGUAGES = (select(ShopLanguage.shop_id, ShopLanguage.language)
              .where(ShopLanguage.shop_id.in_(_IDS)).order_by(ShopLanguage.language))
_STOCK = (select(Stock.shop_id, Part.part_number, Stock.qty, Stock.price, Stock.currency)
          .join(Part, Part.id == Stock.part_id)
          .where(Stock.shop_id.in_(_IDS), Stock.qty > 0)
          .order_by(Stock.shop_id, Part.part_number))


def organization_shop(session: Session, shop_id: int, organization_id: int | None):
    """The shop if it belongs to `organization_id`, else None: the one rule by which a
    dealer's pages and API see their own shops only (others look absent)."""
    if organization_id is None:
        return None
    return session.scalars(select(Shop).where(
        Shop.id == shop_id, Shop.organization_id == organization_id)).first()


def shop_documents(session: Session, ids: list[int], *,
                   part_chains: list[list[int]] | None = None) -> dict[int, dict]:
    """Shops as the API shows them (CONTRACT section 4), keyed by id, with a few bulk
    queries whatever the number of shops. `parts` lists stock (qty > 0) of the requested
    parts and their successors, or, without a request, everything the shop has in stock."""
    if not ids:
        return {}
    bind = {"ids": list(ids)}
    brands = defaultdict(list)
    for shop_id, slug, level in session.execute(_BRANDS, bind).all():
        brands[shop_id].append({"brand": slug, "level": level})
    services = defaultdict(list)
    for shop_id, slug in session.execute(_SERVICES, bind).all():
        services[shop_id].append(slug)
    languages = defaultdict(list)
    for shop_id, language in session.execute(_LANGUAGES, bind).all():
        languages[shop_id].append(language)
    parts = _stock_for(session, bind, part_chains)
    docs = {}
    for r in session.execute(_SHOPS, bind).all():
        docs[r.id] = {
            "id": r.id, "external_id": r.external_id, "name": r.name, "organization": r.slug,
            "brands": brands[r.id], "services": services[r.id], "languages": languages[r.id],
            "address": r.address, "city": r.city, "postal_code": r.postal_code,
            "country": r.country, "lat": r.lat, "lon": r.lon, "timezone": r.timezone,
            "phone": r.phone, "email": r.email, "website": r.website,
            "opening_hours": r.opening_hours, "hv_level": r.hv_level,
            "hv_valid_until": r.hv_valid_until.isoformat() if r.hv_valid_until else None,
            "parts": parts[r.id],
        }
    return docs


def _stock_for(session: Session, bind: dict,
               part_chains: list[list[int]] | None) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = defaultdict(list)
    query = _STOCK
    if part_chains is not None:
        wanted = sorted({p for chain in part_chains for p in chain})
        if not wanted:
            return out
        query = _STOCK.where(Stock.part_id.in_(bindparam("parts", expanding=True)))
        bind = {**bind, "parts": wanted}
    for shop_id, pn, qty, price, currency in session.execute(query, bind).all():
        out[shop_id].append({"part_number": pn, "qty": qty, "price": money(price),
                             "currency": currency})
    return out
