"""Owner pages of the vehicle side: "my car" (bulletins, recalls and shops that do recall
work) and one bulletin in full. Both are GET pages, so every one is a shareable link."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel import Locale
from flask import Blueprint, current_app, g, render_template, request
from flask_babel import gettext as _
from sqlmodel import Session
from werkzeug.datastructures import MultiDict

from .. import vocabulary
from ..catalog.models import Brand, VehicleModel
from ..catalog.queries import catalog_choices, decode_known_vin
from ..db import get_session
from ..errors import BadParameter, NotFound, PortalError
from ..i18n import country_choices
from ..notifications.alert_forms import AlertForm
from ..params import single
from ..search import SearchParams, search
from ..security import limiter
from .api import market_country, text_locale, vehicle_from_args
from .queries import applicable_bulletins, bulletin_detail

bp = Blueprint("bulletins", __name__)

#: The form's fields, which are also the page's query parameters.
FIELDS = ("vin", "brand", "model", "year", "country", "near")
#: Shops listed for a vehicle: authorised for its brand and doing recall work.
SHOP_SERVICE = "recall-work"
SHOP_LEVEL = "authorized"
SHOP_RADIUS_KM = 300.0
SHOP_LIMIT = 5


@bp.app_template_global()
def bulletin_label(table: str, code: str) -> str:
    """The reader's name for a bulletin kind or severity code."""
    return vocabulary.label(vocabulary.BULLETIN_KINDS if table == "kind" else vocabulary.SEVERITIES,
                            code)


def _search_limit() -> str:
    return current_app.config["SEARCH_RATE_LIMIT"]


@bp.get("/vehicle")
@limiter.limit(_search_limit)  # with a place it runs the public search
def vehicle():
    session = get_session()
    g.personal_data = "vin" in request.args  # a VIN is personal: never cached
    page: dict[str, Any] = {"values": {}, "choices": catalog_choices(session),
                            "countries": dict(country_choices())}
    status = 200
    try:
        values = page["values"] = _given(request.args)
        _narrow_to_the_vins_group(session, values, page)
        if values.keys() & {"vin", "brand", "model"}:
            status = _describe(session, values, page)
        elif values:
            raise BadParameter(_("Enter a VIN or choose a model."), code="missing_vehicle",
                               field="vin")
    except PortalError as exc:
        page["error"], status = exc, exc.status
    return render_template("bulletins/vehicle.html", **page), status


def _narrow_to_the_vins_group(session: Session, values: dict[str, str],
                              page: dict[str, Any]) -> None:
    """A VIN whose maker code a group of our brands shares (Geely Holding's L6T) names no
    brand: the model list then offers the group's brands' models only."""
    if "vin" not in values or "model" in values:
        return
    try:
        info = decode_known_vin(session, values["vin"])
    except PortalError:
        return
    if info.brand is None and len(info.brands) > 1:
        page["choices"] = [(brand, models) for brand, models in page["choices"]
                           if brand.slug in info.brands]
        page["group_brands"] = [brand.name for brand, _models in page["choices"]]


@bp.get("/bulletins/<code>")
def bulletin(code: str):
    session = get_session()
    doc = bulletin_detail(session, code.strip().upper()[:40], text_locale())
    if doc is None:
        raise NotFound(_("There is no bulletin %(code)s.", code=code[:40]))
    _prepare(doc)
    names = {m.slug: f"{brand.name} {m.name}" for brand, models in catalog_choices(session)
             for m in models}
    countries = dict(country_choices())
    return render_template("bulletins/bulletin.html", doc=doc,
                           models=[names.get(slug, slug) for slug in doc["models"]],
                           countries=[countries.get(c, c) for c in doc["countries"]])


def _given(args: MultiDict) -> dict[str, str]:
    """The form's non-empty values (forms send empty fields), each checked text."""
    values = {}
    for name in FIELDS:
        value = single(args, name, allow_empty=True)
        if value:
            values[name] = value
    return values


def _describe(session: Session, values: dict[str, str], page: dict[str, Any]) -> int:
    """Fill `page` with the vehicle, its bulletins and, given a place, the shops; returns
    the status (a bad place still shows the bulletins, with the place marked)."""
    info = decode_known_vin(session, values["vin"]) if "vin" in values else None
    found = vehicle_from_args(session, MultiDict({k: v for k, v in values.items()
                                         if k in ("vin", "brand", "model", "year")}))
    country = market_country(values.get("country"))
    docs = applicable_bulletins(session, brand_id=found.brand_id, model_id=found.model_id,
                                year=found.year, country=country, locale=text_locale())
    for doc in docs:
        _prepare(doc)
    brand = session.get(Brand, found.brand_id)
    page.update(info=info, brand=brand, year=found.year, country=country,
                model=session.get(VehicleModel, found.model_id) if found.model_id else None,
                recalls=[d for d in docs if d["kind"] == "recall"],
                others=[d for d in docs if d["kind"] != "recall"])
    if "vin" in values or ("model" in values and "year" in values):
        page["alert_form"] = AlertForm(data={
            "vin": values.get("vin"), "model": values.get("model"), "year": values.get("year"),
            "country": country or "", "locale": text_locale()}).fill_choices()
    if "near" not in values:
        return 200
    params = SearchParams(near=values["near"], country=country, brand=brand.slug,
                          services=[SHOP_SERVICE], authorization=SHOP_LEVEL,
                          radius_km=SHOP_RADIUS_KM, limit=SHOP_LIMIT)
    try:
        page["shops"] = search(params)
    except PortalError as exc:
        page["shop_error"] = exc
        return exc.status
    page["radius_km"] = SHOP_RADIUS_KM
    return 200


def _prepare(doc: dict[str, Any]) -> None:
    """Add what the templates show but the API shape lacks: a date and the text's tag."""
    doc["published_on"] = date.fromisoformat(doc["published"])
    lang = doc["lang"] or "en"
    doc["text_lang"] = lang.replace("_", "-")
    doc["text_dir"] = Locale.parse(lang).text_direction

