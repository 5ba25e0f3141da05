"""JSON routes of the owner search: `/api/v1/shops` and `/api/v1/shops/<id>`."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from ..db import get_session
from ..errors import BadParameter, NotFound
from ..fields import country as check_country
from ..geo.gazetteer import get_gazetteer
from ..params import refuse_unknown, single
from ..security import limiter
from .documents import shop_documents, stock_of
from .hours import state_at
from .location import locate
from .models import Shop
from .queries import resolve_search
from .reasons import match_reasons
from .search import search_shops
from .search_index import index_of
from .search_params import parse_search_args

bp = Blueprint("shops_api", __name__, url_prefix="/api/v1")
#: The public search alone, limited as a blueprint: Flask-Limiter then checks it in the
#: one pass it makes before every request, where a decorated view costs a second pass
#: (about 50 µs of a search's 1 ms).
search_bp = Blueprint("shops_search_api", __name__, url_prefix="/api/v1")


def _search_limit() -> str:
    return current_app.config["SEARCH_RATE_LIMIT"]


limiter.limit(_search_limit)(search_bp)


@search_bp.get("/shops")
def search():
    params = parse_search_args(request.args)
    return jsonify(run_search(params))


def run_search(params, *, base: dict | None = None) -> dict:
    """Search and shape the response of CONTRACT section 4 (also used by part availability
    and the search page)."""
    session = get_session()
    where = locate(params)
    if params.parts:  # it reads stock anyway: the index's counter on the same connection
        session.connection()
    index = index_of(session)
    snapshot = index.current(session)
    query = resolve_search(session, params, snapshot.catalog, lat=where.lat, lon=where.lon)
    page = search_shops(session, query, snapshot)
    ids = [h.shop_id for h in page.hits]
    docs = index.documents(session, snapshot, ids)
    parts = stock_of(session, ids, query.part_chains)
    numbers = _chain_numbers(query)
    today = query.now.date()
    results = []
    for hit in page.hits:
        doc = docs.get(hit.shop_id)
        if doc is None:
            continue  # committed after this request's transaction began
        result = {**doc, "parts": parts[hit.shop_id], "open_now": hit.open_now,
                  "next_change": hit.next_change.isoformat() if hit.next_change else None,
                  "distance_km": round(hit.distance_km, 3)}
        result["match_reasons"] = match_reasons(result, query, open_now=hit.open_now,
                                                part_numbers=numbers, today=today)
        results.append(result)
    return {"query": {"lat": where.lat, "lon": where.lon, "place": where.label,
                      "radius_km": params.radius_km, "sort": params.sort, **(base or {})},
            "total": page.total, "limit": params.limit, "offset": params.offset,
            "results": results}


def _chain_numbers(query) -> list[tuple[set[str], set[str]]]:
    """Per requested part: its own number, and its successors' numbers."""
    return [({chain[0]}, set(chain[1:])) for chain in query.part_chain_numbers]


@bp.get("/shops/<id:shop_id>")
def shop(shop_id: int):
    refuse_unknown(request.args, ())
    session = get_session()
    active = session.scalar(select(Shop.active).where(Shop.id == shop_id))
    if not active:
        raise NotFound()
    doc = shop_documents(session, [shop_id])[shop_id]
    is_open, change = state_at(doc["opening_hours"], doc["timezone"], doc["country"],
                               datetime.now(UTC))
    return jsonify({**doc, "open_now": is_open,
                    "next_change": change.isoformat() if change else None})


@bp.get("/places")
def places():
    """Up to 10 gazetteer places for autocompletion: main names first, then alternate
    names, each by population."""
    refuse_unknown(request.args, ("q", "country"))
    if "q" not in request.args:
        raise BadParameter(_("Type a place name in q."), field="q")
    q = single(request.args, "q", allow_empty=True) or ""
    country = single(request.args, "country")
    if country:
        try:
            country = check_country(country)
        except ValueError as exc:
            raise BadParameter(str(exc), field="country") from None
    found = get_gazetteer().complete(q, country=country, limit=10) if q else []
    return jsonify({"results": [{"name": p.name, "country": p.country, "label": p.label,
                                 "lat": p.lat, "lon": p.lon, "population": p.population}
                                for p in found]})
