"""`GET /api/v1/markets/<cc>`: a country's market rules (CONTRACT section 13), public."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import get_locale
from flask_babel import gettext as _

from ..db import get_session
from ..errors import BadParameter, NotFound
from ..names import country_name
from ..params import refuse_unknown
from .models import Market
from .queries import market_json

bp = Blueprint("markets_api", __name__, url_prefix="/api/v1")


@bp.get("/markets/<cc>")
def market(cc: str):
    """The market of country `cc` (ISO 3166-1 alpha-2, any case): 400 when `cc` is not two
    letters, 404 for a code no market has (a country without one, or no country); `lang=`
    names the holidays."""
    refuse_unknown(request.args, ())
    if not (len(cc) == 2 and cc.isascii() and cc.isalpha()):
        raise BadParameter(_("Not an ISO 3166-1 alpha-2 country code: %(value)s",
                             value=cc[:8]), field="cc")
    country = cc.upper()
    row = get_session().get(Market, country)
    if row is None:  # an unknown code, or a country without a market
        raise NotFound(_("There is no market for %(country)s.", country=country_name(country)))
    return jsonify(market_json(row, locale=str(get_locale() or "en")))
