"""The owner's part page (`/parts/<part_number>`): the part, its supersession chain, the
models it fits and, near a place, the nearest shops holding it or a successor."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..catalog.models import Brand, VehicleModel
from ..db import get_session
from ..errors import NotFound, PortalError
from ..search import parse_search_args, search
from ..shops.views import marker
from .queries import part_document
from .schemas import part_number as check_part_number

bp = Blueprint("parts", __name__)


@bp.get("/parts/<path:part_number>")
def part(part_number: str):
    session = get_session()
    try:
        number = check_part_number(part_number)
    except ValueError:
        raise NotFound(_("Unknown part number: %(value)s", value=part_number[:40])) from None
    doc = part_document(session, number)
    if doc is None:
        raise NotFound(_("Unknown part number: %(value)s", value=number))
    models = session.execute(select(VehicleModel.slug, Brand.name, VehicleModel.name)
                             .join(Brand, Brand.id == VehicleModel.brand_id)
                             .where(VehicleModel.slug.in_(doc["fits"]))
                             .order_by(Brand.name, VehicleModel.name)).all()
    brand_name = session.scalar(select(Brand.name).where(Brand.slug == doc["brand"]))
    context: dict = {"part": doc, "models": models, "brand_name": brand_name or doc["brand"],
                     "args": request.args, "found": None, "error": None,
                     "brand_names": dict(session.execute(select(Brand.slug, Brand.name)).all())}
    status = 200
    args = MultiDict(request.args)
    args.setlist("part", [doc["part_number"]])
    try:
        params = parse_search_args(args, strict=False, require_location=False)
        if params.lat is not None or params.near:
            context["found"] = found = search(params)
            context["markers"] = [marker(r) for r in found["results"]]
    except PortalError as exc:
        context["error"], status = exc, exc.status
    return render_template("parts/part.html", **context), status
