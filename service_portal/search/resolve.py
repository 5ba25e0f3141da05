"""Turning a search's checked parameters into ids: names from the index's catalog, parts
(with their successors) from the database."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import text
from sqlmodel import Session

from ..errors import Invalid
from .columns import Catalog
from .exact import SearchQuery
from .params import SearchParams


def resolve_search(session: Session, params: SearchParams, catalog: Catalog, *, lat: float,
                   lon: float, now: datetime | None = None) -> SearchQuery:
    """Turn checked parameters into ids, brands, models and services by `catalog` (the
    search index's view), parts in the database; an unknown name is a 422 naming
    the parameter. A model implies its brand; a part brings its successors."""
    brand_id = brand_slug = None
    if params.model:
        found = catalog.models.get(params.model)
        if found is None:
            raise Invalid(_("Unknown model: %(value)s", value=params.model),
                          code="unknown_model", field="model")
        if params.brand and params.brand != found[1]:
            raise Invalid(_("The model %(model)s is not a %(brand)s.", model=params.model,
                            brand=params.brand), code="model_brand_mismatch", field="model")
        brand_id, brand_slug = found
    elif params.brand:
        brand_id = catalog.brands.get(params.brand)
        if brand_id is None:
            raise Invalid(_("Unknown brand: %(value)s", value=params.brand),
                          code="unknown_brand", field="brand")
        brand_slug = params.brand
    unknown = [s for s in params.services if s not in catalog.services]
    if unknown:
        raise Invalid(_("Unknown service: %(value)s", value=", ".join(unknown)),
                      code="unknown_service", field="service")
    service_ids = [catalog.services[s] for s in params.services]
    chains = [_chain(session, pn) for pn in params.parts]
    return SearchQuery(
        lat=lat, lon=lon, radius_km=params.radius_km, limit=params.limit, offset=params.offset,
        sort=params.sort, brand_id=brand_id, brand_slug=brand_slug,
        min_level=params.authorization, service_ids=service_ids,
        part_chains=[[part_id for part_id, _pn in chain] for chain in chains],
        part_chain_numbers=[[pn for _id, pn in chain] for chain in chains],
        language=params.language, hv_min=params.hv_level, open_now=params.open_now,
        takes_chemistry=params.takes_chemistry, takes_damaged=bool(params.takes_damaged),
        now=now or datetime.now(UTC))


def part_chain(session: Session, part_number: str) -> list[int]:
    """The part's id followed by its successors' ids (A -> B -> C), newest last."""
    return [part_id for part_id, _pn in _chain(session, part_number)]


def _chain(session: Session, part_number: str) -> list[tuple[int, str]]:
    """(id, part number) of the part and its successors, newest last; unknown: a 422."""
    chain: list[tuple[int, str]] = []
    for part_id, number in session.execute(_CHAIN, {"pn": part_number}).all():
        if any(part_id == known for known, _pn in chain):
            break
        chain.append((part_id, number))
    if not chain:
        raise Invalid(_("Unknown part number: %(value)s", value=part_number),
                      code="unknown_part", field="part")
    return chain


#: The supersession chain in one statement; imports refuse cycles, the depth bound is a
#: last guard against a cycle written some other way (the first repeat ends it).
_CHAIN = text(
    "WITH RECURSIVE chain(id, part_number, next_id, depth) AS ("
    "SELECT id, part_number, superseded_by_id, 0 FROM parts WHERE part_number = :pn "
    "UNION ALL SELECT p.id, p.part_number, p.superseded_by_id, c.depth + 1 FROM parts p "
    "JOIN chain c ON p.id = c.next_id WHERE c.depth < 100) "
    "SELECT id, part_number FROM chain ORDER BY depth")
