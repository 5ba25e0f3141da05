"""Operators' edits of the reference catalog: brands, models, services and WMI codes.

Each write checks its rules, stamps the row as the operator's (`edited_by`, `edited_at`,
so that loading the reference catalog again leaves it as they left it), moves its
`version` (a stale form is a 409) and writes one audit entry; it flushes, never commits.
A slug is fixed at creation: URLs, the API and CSV files refer to it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlmodel import Session

from .. import fields
from ..audit.actors import Actor
from ..audit.services import record
from ..config import SUPPORTED_LOCALES
from ..db import utcnow
from ..errors import Conflict, Invalid
from .models import POWERTRAINS, Brand, Service, VehicleModel, WmiCode

#: The languages a row's `names` may hold: the portal's, English being `name` itself.
NAME_LOCALES = tuple(code for code in SUPPORTED_LOCALES if code != "en")
#: The first model year the catalog accepts, and how far ahead of this year one may be.
FIRST_MODEL_YEAR = 1990
YEARS_AHEAD = 3
#: A WMI: three characters of the VIN alphabet (digits and capitals without I, O, Q).
WMI_PATTERN = re.compile(r"[A-HJ-NPR-Z0-9]{3}")


# --- checks ------------------------------------------------------------------------------

def _text(value: Any, field: str, *, max_length: int, required: bool = True) -> str | None:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        raise Invalid(_("This value is not valid."), field=field)
    if not text:
        if required:
            raise Invalid(_("This value is required."), field=field)
        return None
    if len(text) > max_length:
        raise Invalid(_("At most %(num)s characters.", num=max_length), field=field)
    try:
        return fields.single_line_text(text)
    except ValueError as exc:
        raise Invalid(str(exc), field=field) from None


def check_names(names: dict[str, Any] | None, *, max_length: int) -> dict[str, str]:
    """Translated names by locale, empty ones dropped; only the portal's languages."""
    out = {}
    for locale, value in (names or {}).items():
        if locale not in NAME_LOCALES:
            raise Invalid(_("Unknown language: %(value)s", value=str(locale)[:20]),
                          field="names")
        text = _text(value, f"name_{locale}", max_length=max_length, required=False)
        if text:
            out[locale] = text
    return out


def _new_slug(session: Session, table, value: Any, *, max_length: int, taken: str) -> str:
    try:
        slug = fields.slug(value if isinstance(value, str) else "")
    except ValueError as exc:
        raise Invalid(str(exc), field="slug") from None
    if len(slug) > max_length:
        raise Invalid(_("At most %(num)s characters.", num=max_length), field="slug")
    if session.scalar(select(table.id).where(table.slug == slug)) is not None:
        raise Invalid(taken, field="slug")
    return slug


def latest_model_year() -> int:
    return datetime.now(UTC).year + YEARS_AHEAD


def _years(year_from: Any, year_to: Any) -> tuple[int, int | None]:
    last = latest_model_year()
    if not isinstance(year_from, int) or not FIRST_MODEL_YEAR <= year_from <= last:
        raise Invalid(_("A model year between %(first)s and %(last)s.",
                        first=FIRST_MODEL_YEAR, last=last), field="year_from")
    if year_to is None:
        return year_from, None
    if not isinstance(year_to, int) or not FIRST_MODEL_YEAR <= year_to <= last:
        raise Invalid(_("A model year between %(first)s and %(last)s.",
                        first=FIRST_MODEL_YEAR, last=last), field="year_to")
    if year_to < year_from:
        raise Invalid(_("The last model year cannot come before the first."), field="year_to")
    return year_from, year_to


def _code(value: Any, field: str, *, max_length: int, required: bool) -> str | None:
    """A lower-case code such as a battery chemistry (`lfp`) or a body (`suv`)."""
    text = (value or "").strip() if isinstance(value, str) or value is None else ""
    if not text:
        if required:
            raise Invalid(_("This value is required."), field=field)
        return None
    try:
        text = fields.slug(text)
    except ValueError as exc:
        raise Invalid(str(exc), field=field) from None
    if len(text) > max_length:
        raise Invalid(_("At most %(num)s characters.", num=max_length), field=field)
    return text


def _brand_values(values: dict) -> dict:
    website = (values.get("website") or "").strip() or None
    if website:
        try:
            website = fields.web_link(website)
        except ValueError as exc:
            raise Invalid(str(exc), field="website") from None
    return {"name": _text(values.get("name"), "name", max_length=80),
            "parent_group": _text(values.get("parent_group"), "parent_group",
                                  max_length=120, required=False),
            "website": website,
            "names": check_names(values.get("names"), max_length=80)}


def _model_values(values: dict) -> dict:
    if values.get("powertrain") not in POWERTRAINS:
        raise Invalid(_("Choose a powertrain."), field="powertrain")
    year_from, year_to = _years(values.get("year_from"), values.get("year_to"))
    return {"name": _text(values.get("name"), "name", max_length=80),
            "year_from": year_from, "year_to": year_to, "powertrain": values["powertrain"],
            "battery_chemistry": _code(values.get("battery_chemistry"), "battery_chemistry",
                                       max_length=20, required=True),
            "body": _code(values.get("body"), "body", max_length=30, required=False),
            "names": check_names(values.get("names"), max_length=80)}


def _service_values(values: dict) -> dict:
    return {"name": _text(values.get("name"), "name", max_length=120),
            "names": check_names(values.get("names"), max_length=120)}


# --- writes ------------------------------------------------------------------------------

def _stamp(actor: Actor) -> dict:
    return {"edited_by": actor.label, "edited_at": utcnow()}


def _create(session: Session, row, *, entity: str, key: str, actor: Actor,
            after: dict) -> None:
    for name, value in _stamp(actor).items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    record(session, actor=actor, action=f"{entity}.create", entity_type=entity,
           entity_id=key, after=after)


def _update(session: Session, table, where, row, *, version: Any, values: dict,
            entity: str, key: str, actor: Actor) -> None:
    """Write the values that changed if the row is still at `version` (409 otherwise)."""
    if not isinstance(version, int):
        raise Conflict(field="version")
    before = {k: getattr(row, k) for k in values}
    changed = {k: v for k, v in values.items() if before[k] != v}
    result = session.execute(update(table).where(where, table.version == version).values(
        **changed, version=table.version + 1, **_stamp(actor)))
    if result.rowcount != 1:
        raise Conflict(field="version")
    record(session, actor=actor, action=f"{entity}.update", entity_type=entity,
           entity_id=key, before={k: before[k] for k in changed}, after=changed)
    session.expire_all()


def create_brand(session: Session, *, values: dict, actor: Actor) -> Brand:
    """A new brand; its slug is lower-case, unique and fixed from now on."""
    checked = _brand_values(values)
    slug = _new_slug(session, Brand, values.get("slug"), max_length=40,
                     taken=_("A brand with this slug exists already."))
    brand = Brand(slug=slug, **checked)
    _create(session, brand, entity="brand", key=slug, actor=actor,
            after={"slug": slug, **checked})
    return brand


def update_brand(session: Session, brand: Brand, *, version: Any, values: dict,
                 actor: Actor) -> None:
    """Change a brand's names, group and website (not its slug)."""
    _update(session, Brand, Brand.id == brand.id, brand, version=version,
            values=_brand_values(values), entity="brand", key=brand.slug, actor=actor)


def create_model(session: Session, *, values: dict, actor: Actor) -> VehicleModel:
    """A new model of a known brand; its slug starts with the brand's (`byd-seal`)."""
    checked = _model_values(values)
    brand = session.scalar(select(Brand).where(Brand.slug == (values.get("brand") or "")))
    if brand is None:
        raise Invalid(_("Choose a brand."), field="brand")
    slug = _new_slug(session, VehicleModel, values.get("slug"), max_length=80,
                     taken=_("A model with this slug exists already."))
    if not slug.startswith(brand.slug + "-"):
        raise Invalid(_("A model's slug starts with its brand's slug and a hyphen: "
                        "%(prefix)s…", prefix=brand.slug + "-"), field="slug")
    model = VehicleModel(slug=slug, brand_id=brand.id, **checked)
    _create(session, model, entity="model", key=slug, actor=actor,
            after={"slug": slug, "brand": brand.slug, **checked})
    return model


def update_model(session: Session, model: VehicleModel, *, version: Any, values: dict,
                 actor: Actor) -> None:
    """Change a model's names, years, powertrain, chemistry and body (not its slug or
    brand: the slug names the brand)."""
    _update(session, VehicleModel, VehicleModel.id == model.id, model, version=version,
            values=_model_values(values), entity="model", key=model.slug, actor=actor)


def create_service(session: Session, *, values: dict, actor: Actor) -> Service:
    """A new service shops can offer; the English `name` names it where the portal's
    catalogs have no translation and `names` none either."""
    checked = _service_values(values)
    slug = _new_slug(session, Service, values.get("slug"), max_length=40,
                     taken=_("A service with this slug exists already."))
    service = Service(slug=slug, **checked)
    _create(session, service, entity="service", key=slug, actor=actor,
            after={"slug": slug, **checked})
    return service


def update_service(session: Session, service: Service, *, version: Any, values: dict,
                   actor: Actor) -> None:
    _update(session, Service, Service.id == service.id, service, version=version,
            values=_service_values(values), entity="service", key=service.slug, actor=actor)


# --- WMI codes ---------------------------------------------------------------------------

def check_wmi_code(value: Any) -> str:
    """Three characters of the VIN alphabet, upper-cased."""
    code = (value or "").strip().upper() if isinstance(value, str) else ""
    if not WMI_PATTERN.fullmatch(code):
        raise Invalid(_("A WMI is the first three characters of a VIN: digits and capital "
                        "letters without I, O and Q."), field="code")
    return code


def _wmi_values(session: Session, values: dict) -> dict:
    brands = values.get("brands") or []
    if not isinstance(brands, list | tuple) or not brands:
        raise Invalid(_("Choose at least one brand."), field="brands")
    known = set(session.scalars(select(Brand.slug).where(Brand.slug.in_(
        [b for b in brands if isinstance(b, str)]))))
    unknown = [str(b)[:40] for b in brands if b not in known]
    if unknown:
        raise Invalid(_("Unknown brand: %(value)s", value=", ".join(unknown)), field="brands")
    source = _text(values.get("source"), "source", max_length=500)
    note = (values.get("note") or "").strip() if isinstance(values.get("note"), str) else ""
    if len(note) > 1000:
        raise Invalid(_("At most %(num)s characters.", num=1000), field="note")
    try:
        fields.multi_line_text(note)
    except ValueError as exc:
        raise Invalid(str(exc), field="note") from None
    return {"brands": sorted(set(brands)), "source": source, "note": note}


def create_wmi(session: Session, *, code: Any, values: dict, actor: Actor) -> WmiCode:
    """A new WMI naming one or more known brands, with the public source that says so."""
    code = check_wmi_code(code)
    checked = _wmi_values(session, values)
    if session.get(WmiCode, code) is not None:
        raise Invalid(_("This WMI is in the table already."), field="code")
    row = WmiCode(code=code, **checked)
    _create(session, row, entity="wmi", key=code, actor=actor, after={"code": code, **checked})
    return row


def update_wmi(session: Session, row: WmiCode, *, version: Any, values: dict,
               actor: Actor) -> None:
    _update(session, WmiCode, WmiCode.code == row.code, row, version=version,
            values=_wmi_values(session, values), entity="wmi", key=row.code, actor=actor)


def delete_wmi(session: Session, row: WmiCode, *, version: Any, actor: Actor) -> None:
    """Remove a WMI if it is still at `version` (409 otherwise): its VINs name no brand
    until the reference catalog or an operator adds it again."""
    if not isinstance(version, int):
        raise Conflict(field="version")
    before = {"brands": row.brands, "source": row.source, "note": row.note}
    result = session.execute(delete(WmiCode).where(WmiCode.code == row.code,
                                                   WmiCode.version == version))
    if result.rowcount != 1:
        raise Conflict(field="version")
    record(session, actor=actor, action="wmi.delete", entity_type="wmi", entity_id=row.code,
           before=before)
    session.expire_all()

