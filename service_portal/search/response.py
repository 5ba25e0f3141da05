"""The search's answer as CONTRACT section 4 shapes it, for the API and every page."""

from __future__ import annotations

from ..coverage import count_search
from ..credentials.queries import verified_claims, with_verification
from ..db import get_session
from ..shops.documents import stock_of
from .exact import search_shops
from .index import ShopIndex
from .location import locate
from .params import SearchParams
from .reasons import match_reasons
from .resolve import resolve_search


def search_response(index: ShopIndex, params: SearchParams, *,
                    base: dict | None = None, counted: bool = False) -> dict:
    """Search with the request's session and shape the response: the query as resolved,
    `total`, `limit`, `offset` and the page's shop documents with their stock of the
    parts asked for, distance, opening state and `match_reasons`. `counted`: an owner's
    search, counted for the coverage figures (`coverage.count_search`)."""
    session = get_session()
    where = locate(params)
    if params.parts:  # it reads stock anyway: ask about changes on the same connection
        session.connection()
    view = index.current(session)
    query = resolve_search(session, params, view.catalog, lat=where.lat, lon=where.lon)
    query.want_served = counted
    page = search_shops(session, query, view, index=index)
    if counted:
        count_search(brand=query.brand_slug, service=params.services[0] if params.services
                     else None, lat=where.lat, lon=where.lon, served=bool(page.served))
    docs = index.documents(session, [(h.shop_id, h.stamp) for h in page.hits])
    parts = stock_of(session, [h.shop_id for h in page.hits], query.part_chains)
    numbers = [({chain[0]}, set(chain[1:])) for chain in query.part_chain_numbers]
    today = query.now.date()
    claims = verified_claims(session, [h.shop_id for h in page.hits], today)
    results = []
    for hit in page.hits:
        doc = docs.get(hit.shop_id)
        if doc is None:
            continue  # committed after this request's transaction began
        result = {**with_verification(doc, claims.get(hit.shop_id)),
                  "parts": parts[hit.shop_id], "open_now": hit.open_now,
                  "next_change": hit.next_change.isoformat() if hit.next_change else None,
                  "distance_km": round(hit.distance_km, 3)}
        result["match_reasons"] = match_reasons(result, query, open_now=hit.open_now,
                                                part_numbers=numbers, today=today)
        results.append(result)
    return {"query": {"lat": where.lat, "lon": where.lon, "place": where.label,
                      "radius_km": params.radius_km, "sort": params.sort, **(base or {})},
            "total": page.total, "limit": params.limit, "offset": params.offset,
            "results": results}
