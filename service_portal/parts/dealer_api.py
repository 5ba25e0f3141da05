"""Dealer JSON routes for stock (CONTRACT section 5): own organisation's shops only."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _

from ..db import get_session, reads_first
from ..errors import BadParameter, NotFound
from ..jsonbody import json_body
from ..params import refuse_unknown, single
from ..security import current_actor, token_required
from ..shops.models import Shop
from ..shops.queries import organization_shop
from ..tabular import read_table
from .queries import money, shop_stock
from .schemas import StockPatchIn, StockPutIn, part_number
from .services import adjust_stock, import_stock, put_stock, set_stock

bp = Blueprint("dealer_stock_api", __name__, url_prefix="/api/v1/dealer")


def own_shop(shop_id: int) -> Shop:
    """The shop if it belongs to the caller's organisation; otherwise 404, as if absent."""
    shop = organization_shop(get_session(), shop_id, g.api_user.organization_id)
    if shop is None:
        raise NotFound()
    return shop


@bp.get("/shops/<id:shop_id>/stock")
@token_required("dealer")
def list_stock(shop_id: int):
    refuse_unknown(request.args, ("q", "low"))
    shop = own_shop(shop_id)
    low = single(request.args, "low") == "true"
    rows = shop_stock(get_session(), shop.id, search=single(request.args, "q") or "",
                      low_only=low)
    return jsonify({"results": rows})


@bp.put("/shops/<id:shop_id>/stock")
@token_required("dealer")
def replace_stock(shop_id: int):
    shop = own_shop(shop_id)
    body = json_body(StockPutIn)
    counts = put_stock(get_session(), shop_id=shop.id, items=body.items, mode=body.mode,
                       actor=current_actor())
    return jsonify({k: counts[k] for k in ("created", "updated", "deleted")})


@bp.patch("/shops/<id:shop_id>/stock/<path:number>")
@token_required("dealer")
def patch_stock(shop_id: int, number: str):
    shop = own_shop(shop_id)
    try:
        pn = part_number(number)
    except ValueError:
        raise NotFound() from None
    body = json_body(StockPatchIn)
    session = get_session()
    if body.qty_delta is not None:
        row = adjust_stock(session, shop_id=shop.id, part_number=pn, delta=body.qty_delta,
                           actor=current_actor())
        if body.min_qty is not None:
            row = set_stock(session, shop_id=shop.id, part_number=pn, qty=None, version=None,
                            min_qty=body.min_qty, actor=current_actor())
    else:
        row = set_stock(session, shop_id=shop.id, part_number=pn, qty=body.qty,
                        version=body.version, min_qty=body.min_qty, actor=current_actor())
    return jsonify({"part_number": pn, "qty": row.qty, "price": money(row.price),
                    "currency": row.currency, "min_qty": row.min_qty, "version": row.version,
                    "updated_at": row.updated_at.isoformat()})


@bp.post("/shops/<id:shop_id>/stock/import")
@reads_first
@token_required("dealer")
def import_file(shop_id: int):
    """A CSV or XLSX upload: 200 with counts, or 422 listing every bad row or naming the
    reading limit it passed; `dry_run=true` checks without storing (nor taking the write
    lock). Rows for other shops must be this organisation's."""
    shop = own_shop(shop_id)
    refuse_unknown(request.args, ("dry_run",))
    upload = request.files.get("file")
    if upload is None:
        raise BadParameter(_("Attach the file as the multipart field “file”."), field="file")
    dry_run = (single(request.args, "dry_run") or request.form.get("dry_run", "")) == "true"
    table = read_table(upload.read(), upload.filename or "",
                       seconds=current_app.config["IMPORT_PARSE_SECONDS"])
    explicit = "shop_external_id" not in table.columns
    counts = import_stock(get_session(), table, actor=current_actor(),
                          source=upload.filename or "",
                          shop_external_id=shop.external_id if explicit else None,
                          dry_run=dry_run, organization_id=shop.organization_id)
    return jsonify({**counts, "dry_run": dry_run})
