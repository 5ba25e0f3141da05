"""Dealer JSON route listing the caller's own shops (CONTRACT section 5)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from ..db import get_session
from ..params import refuse_unknown
from ..security import token_required
from .documents import shop_documents
from .models import Shop

bp = Blueprint("dealer_shops_api", __name__, url_prefix="/api/v1/dealer")


@bp.get("/shops")
@token_required("dealer")
def my_shops():
    refuse_unknown(request.args, ())
    session = get_session()
    ids = session.scalars(select(Shop.id).where(
        Shop.organization_id == g.api_user.organization_id).order_by(Shop.name)).all()
    docs = shop_documents(session, list(ids), part_chains=[])
    return jsonify({"results": [docs[i] for i in ids]})
