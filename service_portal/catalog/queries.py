"""Reads of the vehicle catalog shared by the API, pages and cases."""

from __future__ import annotations

from collections import defaultdict

from flask import g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import func, or_
from sqlmodel import Session, select

from ..errors import Invalid
from .models import Brand, Service, VehicleModel, WmiCode
from .vin import ModelRow, VinInfo, WmiTable, decode_vin


def catalog_models(session: Session) -> list[ModelRow]:
    """Every model with its brand and years, as the VIN decoder narrows by them."""
    return [ModelRow(brand=brand, model=model, year_from=year_from, year_to=year_to)
            for model, brand, year_from, year_to in session.exec(
                select(VehicleModel.slug, Brand.slug, VehicleModel.year_from,
                       VehicleModel.year_to).join(Brand, Brand.id == VehicleModel.brand_id))]


def wmi_table(session: Session) -> WmiTable | None:
    """The `wmi_codes` table as code -> brands, read once per request (kept on `g`, as
    the catalog names are); None while the table is empty (the reference catalog not
    loaded: decoding then uses the shipped one)."""
    cached = g.get("_wmi_table") if has_request_context() else None
    if cached is not None:
        return cached or None
    table = {code: tuple(brands or ()) for code, brands in session.exec(
        select(WmiCode.code, WmiCode.brands))}
    if has_request_context():
        g._wmi_table = table
    return table or None


def decode_known_vin(session: Session, text: str) -> VinInfo:
    """The VIN decoded against the catalog and its WMI table; not a VIN at all is a 422
    `invalid_vin`."""
    info = decode_vin(text, catalog_models(session), wmi_table(session))
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


# --- the admin area's lists --------------------------------------------------------------

def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%") \
        .replace("_", "\\_") + "%"


def _matching(query, text: str, *columns):
    if not text:
        return query
    pattern = _like(text)
    return query.where(or_(*(func.lower(c).like(pattern, escape="\\") for c in columns)))


def _page(session: Session, query, order, *, offset: int, limit: int) -> tuple[int, list]:
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    return total, session.execute(query.order_by(*order).offset(offset).limit(limit)).all()


def _order(column, descending: bool):
    return column.desc().nulls_last() if descending else column.asc().nulls_last()


_MODEL_COUNT = (select(func.count()).select_from(VehicleModel)
                .where(VehicleModel.brand_id == Brand.id).correlate(Brand).scalar_subquery())
#: The columns each admin list sorts by.
BRAND_SORTS = {"name": Brand.name, "slug": Brand.slug, "models": _MODEL_COUNT,
               "edited": Brand.edited_at}
MODEL_SORTS = {"name": Brand.name, "slug": VehicleModel.slug,
               "years": VehicleModel.year_from, "powertrain": VehicleModel.powertrain,
               "edited": VehicleModel.edited_at}
SERVICE_SORTS = {"name": Service.name, "slug": Service.slug, "edited": Service.edited_at}


def list_brands(session: Session, *, text: str = "", sort: str = "name",
                descending: bool = False, offset: int = 0, limit: int = 50
                ) -> tuple[int, list[tuple[Brand, int]]]:
    """Brands whose slug, name or group holds `text`, with their number of models,
    sorted by one of BRAND_SORTS (ties by slug); (total, one page)."""
    query = _matching(select(Brand, _MODEL_COUNT), text, Brand.slug, Brand.name,
                      Brand.parent_group)
    return _page(session, query, (_order(BRAND_SORTS[sort], descending), Brand.slug),
                 offset=offset, limit=limit)


def list_models(session: Session, *, text: str = "", brand: str | None = None,
                powertrain: str | None = None, sort: str = "name", descending: bool = False,
                offset: int = 0, limit: int = 50) -> tuple[int, list[tuple[VehicleModel, str]]]:
    """Models (with their brand's slug) whose slug or name holds `text`, of `brand` and
    `powertrain` when given, sorted by one of MODEL_SORTS (`name`: brand, then model)."""
    query = _matching(select(VehicleModel, Brand.slug)
                      .join(Brand, Brand.id == VehicleModel.brand_id),
                      text, VehicleModel.slug, VehicleModel.name, Brand.name)
    if brand:
        query = query.where(Brand.slug == brand)
    if powertrain:
        query = query.where(VehicleModel.powertrain == powertrain)
    order = [_order(MODEL_SORTS[sort], descending)]
    if sort == "name":
        order.append(_order(VehicleModel.name, descending))
    return _page(session, query, (*order, VehicleModel.slug), offset=offset, limit=limit)


def list_services(session: Session, *, text: str = "", sort: str = "name",
                  descending: bool = False, offset: int = 0, limit: int = 50
                  ) -> tuple[int, list[Service]]:
    """Services whose slug or English name holds `text`, sorted by one of SERVICE_SORTS."""
    query = _matching(select(Service), text, Service.slug, Service.name)
    total, rows = _page(session, query, (_order(SERVICE_SORTS[sort], descending),
                                         Service.slug), offset=offset, limit=limit)
    return total, [service for (service,) in rows]


def list_wmi_codes(session: Session, *, text: str = "", brand: str | None = None,
                   descending: bool = False, offset: int = 0, limit: int = 50
                   ) -> tuple[int, list[WmiCode]]:
    """WMI codes whose code, source or note holds `text`, naming `brand` when given, by
    code. The table is small (a few hundred rows): the brand filter reads its JSON lists
    here rather than in each database's JSON dialect."""
    query = _matching(select(WmiCode), text, WmiCode.code, WmiCode.source, WmiCode.note)
    rows = [row for row in session.scalars(query.order_by(
        WmiCode.code.desc() if descending else WmiCode.code))
        if brand is None or brand in (row.brands or [])]
    return len(rows), rows[offset:offset + limit]
