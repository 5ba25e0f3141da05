"""Reads of the vehicle catalog shared by the API, pages and cases."""

from __future__ import annotations

from collections import defaultdict

from flask_babel import gettext as _
from sqlmodel import Session, select

from ..errors import Invalid
from .models import Brand, VehicleModel
from .vin import ModelRow, VinInfo, decode_vin


def catalog_models(session: Session) -> list[ModelRow]:
    """Every model with its brand and years, as the VIN decoder narrows by them."""
    return [ModelRow(brand=brand, model=model, year_from=year_from, year_to=year_to)
            for model, brand, year_from, year_to in session.exec(
                select(VehicleModel.slug, Brand.slug, VehicleModel.year_from,
                       VehicleModel.year_to).join(Brand, Brand.id == VehicleModel.brand_id))]


def decode_known_vin(session: Session, text: str) -> VinInfo:
    """The VIN decoded against the catalog; not a VIN at all is a 422 `invalid_vin`."""
    info = decode_vin(text, catalog_models(session))
    if not info.valid:
        raise Invalid(_("Not a VIN: 17 letters and digits, without I, O and Q."),
                      code="invalid_vin", field="vin")
    return info


def vin_mismatch(field: str) -> Invalid:
    """The 422 for a `brand`, `model` or `year` given beside a VIN that says otherwise."""
    messages = {"brand": _("The brand does not match the VIN."),
                "model": _("The model does not match the VIN."),
                "year": _("The model year does not match the VIN.")}
    return Invalid(messages[field], code="vin_mismatch", field=field)


def catalog_choices(session: Session) -> list[tuple[Brand, list[VehicleModel]]]:
    """Brands by name, each with its models by name: the vehicle pickers of the pages."""
    models: dict[int, list[VehicleModel]] = defaultdict(list)
    for model in session.exec(select(VehicleModel).order_by(VehicleModel.name)):
        models[model.brand_id].append(model)
    return [(brand, models.get(brand.id, []))
            for brand in session.exec(select(Brand).order_by(Brand.name))]
