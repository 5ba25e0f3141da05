"""Reads for the search page: what the portal covers and what the search form offers."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlmodel import Session

from ..catalog.models import Brand, Service, VehicleModel
from ..catalog.queries import decode_known_vin
from ..catalog.vin import VinInfo
from ..errors import Invalid
from ..names import brand_name, model_only_name
from ..shops.models import Shop, ShopLanguage
from ..shops.queries import listed_shop


def portal_counts(session: Session) -> dict[str, int]:
    """How many brands, active shops and countries the portal covers."""
    shops, countries = session.execute(
        select(func.count(Shop.id), func.count(func.distinct(Shop.country)))
        .where(listed_shop())
    ).one()
    brands = session.scalar(select(func.count(Brand.id)))
    return {"brands": brands or 0, "shops": shops or 0, "countries": countries or 0}


def search_choices(session: Session) -> dict:
    """What the search form offers: brands, models by brand, services, the languages
    some shop speaks and the catalog's battery chemistries (for take-back points)."""
    # Names in the reader's language (an admin's translation, else the English name),
    # sorted as the reader reads them.
    brands = sorted(({"slug": slug, "name": brand_name(slug)}
                     for slug in session.scalars(select(Brand.slug))),
                    key=lambda b: b["name"].casefold())
    models: dict[str, list[dict]] = {b["slug"]: [] for b in brands}
    for slug, brand in session.execute(
            select(VehicleModel.slug, Brand.slug)
            .join(Brand, Brand.id == VehicleModel.brand_id)).all():
        models[brand].append({"slug": slug, "name": model_only_name(slug)})
    for choices in models.values():
        choices.sort(key=lambda m: m["name"].casefold())
    services = list(session.scalars(select(Service.slug).order_by(Service.id)))
    languages = list(session.scalars(select(ShopLanguage.language).distinct()
                                     .order_by(ShopLanguage.language)))
    chemistries = sorted(set(session.scalars(select(VehicleModel.battery_chemistry))))
    return {"brands": brands, "models": models, "services": services, "languages": languages,
            "chemistries": chemistries,
            "brand_names": {b["slug"]: b["name"] for b in brands},
            "model_names": {m["slug"]: m["name"] for ms in models.values() for m in ms},
            "model_brand": {m["slug"]: brand for brand, ms in models.items() for m in ms}}


def vehicle_from_vin(session: Session, text: str) -> VinInfo:
    """The brand and model a VIN stands for; a malformed VIN or one of an unknown brand is
    a 422 on the field `vin`."""
    info = decode_known_vin(session, text)
    if info.brand is None:
        raise Invalid(_("The brand of this VIN is not known; give the brand or model."),
                      code="unknown_brand", field="vin")
    return info
