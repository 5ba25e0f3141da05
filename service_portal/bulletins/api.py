"""JSON routes of the vehicle side: VIN decoding and the bulletins that apply to a vehicle."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, jsonify, request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlmodel import Session, select
from werkzeug.datastructures import MultiDict

from .. import fields
from ..catalog.models import Brand, VehicleModel
from ..catalog.queries import decode_known_vin, vin_mismatch
from ..db import get_session
from ..errors import BadParameter, Invalid, NotFound
from ..params import refuse_unknown, single
from .models import BULLETIN_KINDS
from .queries import applicable_bulletins, bulletin_detail

bp = Blueprint("bulletins_api", __name__, url_prefix="/api/v1")

MIN_YEAR, MAX_YEAR = 1990, 2100
BULLETIN_PARAMS = ("brand", "model", "year", "vin", "country", "kind")


@dataclass(frozen=True)
class Vehicle:
    """The vehicle a bulletin search is about, as ids."""

    brand_id: int
    model_id: int | None
    year: int | None


@bp.get("/vin/<vin>")
def vin(vin: str):
    refuse_unknown(request.args, ())
    return jsonify(decode_known_vin(get_session(), vin).to_dict())


@bp.get("/bulletins")
def bulletins():
    refuse_unknown(request.args, BULLETIN_PARAMS)
    session = get_session()
    vehicle = vehicle_from_args(session, request.args)
    country = market_country(single(request.args, "country"))
    kind = single(request.args, "kind")
    if kind is not None and kind not in BULLETIN_KINDS:
        raise BadParameter(_("Must be one of %(options)s: %(value)s",
                             options=", ".join(BULLETIN_KINDS), value=kind), field="kind")
    return jsonify({"results": applicable_bulletins(
        session, brand_id=vehicle.brand_id, model_id=vehicle.model_id, year=vehicle.year,
        country=country, kind=kind, locale=text_locale())})


@bp.get("/bulletins/<code>")
def bulletin(code: str):
    refuse_unknown(request.args, ())
    doc = bulletin_detail(get_session(), code.strip().upper(), text_locale())
    if doc is None:
        raise NotFound(_("There is no bulletin %(code)s.", code=code[:40]))
    return jsonify(doc)


def text_locale() -> str:
    # The locale selector already put `lang=` first, then the cookie and Accept-Language,
    # each mapped onto the catalog locales.
    return str(get_locale() or "en")




def vehicle_from_args(session: Session, args: MultiDict) -> Vehicle:
    """Brand, model and year from the parameters; a VIN stands for all three where it knows
    them, and must agree with any of them also given."""
    brand, model = _slug(args, "brand"), _slug(args, "model")
    year, vin_text = _year(single(args, "year")), single(args, "vin")
    if not (brand or model or vin_text):
        raise BadParameter(_("Say which vehicle: a brand, a model or a VIN."),
                           code="missing_vehicle", field="brand")
    source = {"brand": "brand", "model": "model"}
    if vin_text:
        info = decode_known_vin(session, vin_text)
        if info.brand is None and not (brand or model):
            raise Invalid(_("The brand of this VIN is not known; give the brand or model."),
                          code="unknown_brand", field="vin")
        for name, given, decoded in (("brand", brand, info.brand), ("model", model, info.model),
                                     ("year", year, info.model_year)):
            if given is not None and decoded is not None and given != decoded:
                raise vin_mismatch(name)
        if brand is None and info.brand:
            brand, source["brand"] = info.brand, "vin"
        if model is None and info.model:
            model, source["model"] = info.model, "vin"
        year = year if year is not None else info.model_year
    if model:
        row = session.exec(select(VehicleModel.id, VehicleModel.brand_id, Brand.slug)
                           .join(Brand, Brand.id == VehicleModel.brand_id)
                           .where(VehicleModel.slug == model)).first()
        if row is None:
            raise Invalid(_("Unknown model: %(value)s", value=model), code="unknown_model",
                          field=source["model"])
        if brand and brand != row.slug:
            raise Invalid(_("The model %(model)s is not a %(brand)s.", model=model,
                            brand=brand), code="model_brand_mismatch", field="model")
        return Vehicle(brand_id=row.brand_id, model_id=row.id, year=year)
    brand_id = session.exec(select(Brand.id).where(Brand.slug == brand)).first()
    if brand_id is None:
        raise Invalid(_("Unknown brand: %(value)s", value=brand), code="unknown_brand",
                      field=source["brand"])
    return Vehicle(brand_id=brand_id, model_id=None, year=year)


def _slug(args: MultiDict, name: str) -> str | None:
    value = single(args, name)
    if value is None:
        return None
    try:
        return fields.slug(value)
    except ValueError as exc:
        raise BadParameter(str(exc), field=name) from None


def _year(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and MIN_YEAR <= int(value) <= MAX_YEAR):
        raise BadParameter(_("Must be a whole number from %(min)s to %(max)s: %(value)s",
                             min=MIN_YEAR, max=MAX_YEAR, value=value), field="year")
    return int(value)


def market_country(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return fields.country(value)
    except ValueError as exc:
        raise BadParameter(str(exc), field="country") from None
