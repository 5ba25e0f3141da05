"""JSON routes of the catalog: brands, models and services, named in the reader's language."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from .. import vocabulary
from ..db import get_session
from ..errors import Invalid
from ..names import brand_name, model_only_name, service_name
from ..params import refuse_unknown, single
from .models import Brand, Service, VehicleModel

bp = Blueprint("catalog_api", __name__, url_prefix="/api/v1")


@bp.get("/brands")
def brands():
    refuse_unknown(request.args, ())
    rows = get_session().execute(select(Brand.slug, Brand.name, Brand.parent_group)
                                 .order_by(Brand.name)).all()
    return jsonify({"results": [{"brand": slug, "name": brand_name(slug), "group": group}
                                for slug, _name, group in rows]})


@bp.get("/models")
def models():
    refuse_unknown(request.args, ("brand",))
    brand = single(request.args, "brand")
    query = (select(VehicleModel, Brand.slug).join(Brand, Brand.id == VehicleModel.brand_id)
             .order_by(Brand.slug, VehicleModel.name))
    session = get_session()
    if brand:
        if session.scalar(select(Brand.id).where(Brand.slug == brand)) is None:
            raise Invalid(_("Unknown brand: %(value)s", value=brand), code="unknown_brand",
                          field="brand")
        query = query.where(Brand.slug == brand)
    return jsonify({"results": [{
        "model": m.slug, "brand": brand_slug, "name": model_only_name(m.slug),
        "year_from": m.year_from,
        "year_to": m.year_to, "powertrain": m.powertrain,
        "powertrain_name": vocabulary.label(vocabulary.POWERTRAINS, m.powertrain),
        "battery_chemistry": m.battery_chemistry, "body": m.body,
    } for m, brand_slug in session.execute(query).all()]})


@bp.get("/services")
def services():
    refuse_unknown(request.args, ())
    rows = get_session().execute(select(Service.slug).order_by(Service.id)).scalars().all()
    return jsonify({"results": [{"service": slug, "name": service_name(slug)}
                                for slug in rows]})
