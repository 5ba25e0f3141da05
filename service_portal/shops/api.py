"""JSON routes of the owner search: `/api/v1/shops` and `/api/v1/shops/<id>`."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from ..credentials.queries import verified_claims, with_verification
from ..db import get_session
from ..errors import BadParameter, NotFound
from ..fields import country as check_country
from ..geo.gazetteer import get_gazetteer
from ..params import refuse_unknown, single
from ..search import parse_search_args
from ..search import search as search_shops
from ..security import limiter
from .documents import shop_documents
from .hours import state_at
from .models import Shop
from .queries import listed_shop

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
    return jsonify(search_shops(params, counted=True))


@bp.get("/shops/<id:shop_id>")
def shop(shop_id: int):
    refuse_unknown(request.args, ())
    session = get_session()
    if session.scalar(select(Shop.id).where(Shop.id == shop_id, listed_shop())) is None:
        raise NotFound()
    doc = shop_documents(session, [shop_id])[shop_id]
    claims = verified_claims(session, [shop_id], datetime.now(UTC).date())
    doc = with_verification(doc, claims.get(shop_id))
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
