"""Shapes of shop input: one row of the shops CSV, checked field by field."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import opening_hours
from flask_babel import gettext as _

from .. import fields
from ..geo.timezones import is_zone, zone_at
from ..tabular import RowChecker, RowError
from .models import AUTH_LEVELS, HV_LEVELS

SHOP_COLUMNS = ("external_id", "name", "organization", "brands", "services", "languages",
                "address", "city", "postal_code", "country", "lat", "lon", "timezone", "phone",
                "email", "website", "opening_hours")
OPTIONAL_SHOP_COLUMNS = ("hv_level", "hv_valid_until")


@dataclass
class ShopInput:
    external_id: str
    name: str
    organization: str
    brands: dict[str, str]
    services: list[str]
    languages: list[str]
    address: str
    city: str
    postal_code: str
    country: str
    lat: float
    lon: float
    timezone: str
    phone: str | None
    email: str | None
    website: str | None
    opening_hours: str | None
    hv_level: str = "none"
    hv_valid_until: date | None = None
    extra: dict = field(default_factory=dict)


def split_list(cell: str) -> list[str]:
    return [item.strip() for item in cell.split(";") if item.strip()]


def check_opening_hours(value: str) -> str:
    """An OpenStreetMap `opening_hours` value that the OSM parser accepts."""
    text = value.strip()
    try:
        opening_hours.OpeningHours(text)
    except Exception:  # the parser raises its own error types
        raise ValueError(_("Not valid OpenStreetMap opening hours: %(value)s", value=value)) \
            from None
    return text


def parse_shop_row(number: int, row: dict[str, str], *, brands: set[str],
                   services: set[str]) -> tuple[ShopInput | None, list[RowError]]:
    """Check one CSV row; return the shop or every error found in it."""
    check = RowChecker(number, row)
    values: dict = {}

    values["external_id"] = check("external_id", _external_id, required=True)
    values["name"] = check("name", _text(200), required=True)
    values["organization"] = check("organization", fields.slug, required=True)
    values["brands"] = check("brands", lambda v: _brand_levels(v, brands)) or {}
    values["services"] = check("services", lambda v: _known_list(v, services)) or []
    values["languages"] = check("languages", lambda v: _dedupe(
        fields.language(x) for x in split_list(v))) or []
    values["address"] = check("address", _text(300)) or ""
    values["city"] = check("city", _text(120)) or ""
    values["postal_code"] = check("postal_code", _text(20)) or ""
    values["country"] = check("country", fields.country, required=True)
    values["lat"] = check("lat", fields.latitude, required=True)
    values["lon"] = check("lon", fields.longitude, required=True)
    values["timezone"] = check("timezone", _zone)
    values["phone"] = check("phone", lambda v: fields.phone_e164(v, values["country"]))
    values["email"] = check("email", fields.email)
    values["website"] = check("website", fields.web_link)
    values["opening_hours"] = check("opening_hours", check_opening_hours)
    values["hv_level"] = check("hv_level", _hv_level) or "none"
    values["hv_valid_until"] = check("hv_valid_until", fields.iso_date)
    if check.errors:
        return None, check.errors
    if not values["timezone"]:
        values["timezone"] = zone_at(values["lat"], values["lon"])
    return ShopInput(**values), []


def _external_id(value: str) -> str:
    if len(value) > 80 or any(c.isspace() for c in value):
        raise ValueError(_("An external id has at most 80 characters and no spaces."))
    return fields.single_line_text(value)


def _text(limit: int):
    def parse(value: str) -> str:
        if len(value) > limit:
            raise ValueError(_("At most %(limit)s characters.", limit=limit))
        return fields.single_line_text(value)
    return parse


def _brand_levels(value: str, known: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in split_list(value):
        brand, _sep, level = pair.partition(":")
        brand, level = brand.strip().lower(), (level.strip().lower() or "independent")
        if brand not in known:
            raise ValueError(_("Unknown brand: %(value)s", value=brand))
        if level not in AUTH_LEVELS:
            raise ValueError(_("Unknown authorisation level: %(value)s", value=level))
        out[brand] = level
    return out


def _known_list(value: str, known: set[str]) -> list[str]:
    items = _dedupe(x.lower() for x in split_list(value))
    unknown = [x for x in items if x not in known]
    if unknown:
        raise ValueError(_("Unknown service: %(value)s", value=", ".join(unknown)))
    return items


def _zone(value: str) -> str:
    if not is_zone(value):
        raise ValueError(_("Unknown time zone: %(value)s", value=value))
    return value


def _hv_level(value: str) -> str:
    level = value.upper() if value.lower() != "none" else "none"
    if level not in HV_LEVELS:
        raise ValueError(_("Unknown high-voltage level: %(value)s", value=value))
    return level


def _dedupe(items) -> list[str]:
    return list(dict.fromkeys(items))
