"""The search's query parameters (CONTRACT section 4), checked: types, ranges, enums, lengths.

The same parameters drive `GET /api/v1/shops`, the availability of a part and the search
page, so a search is a shareable link. A bad value is a 400 naming the parameter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from .. import fields
from ..errors import BadParameter
from ..params import check_text, refuse_unknown, single
from ..parts.schemas import part_number
from ..shops.models import AUTH_LEVELS

SORTS = ("distance", "best")
HV_MINIMUMS = ("1S", "2S", "3S")
MAX_RADIUS_KM = 1000.0
DEFAULT_RADIUS_KM = 50.0
MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_REPEATS = 10
SINGLE = ("lat", "lon", "near", "country", "radius_km", "limit", "offset", "brand", "model",
          "language", "authorization", "hv_level", "open_now", "sort", "takes_chemistry",
          "takes_damaged")
REPEATABLE = ("service", "part")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass
class SearchParams:
    lat: float | None = None
    lon: float | None = None
    near: str | None = None
    country: str | None = None
    radius_km: float = DEFAULT_RADIUS_KM
    limit: int = 20
    offset: int = 0
    brand: str | None = None
    model: str | None = None
    services: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    language: str | None = None
    authorization: str | None = None
    hv_level: str | None = None
    open_now: bool | None = None
    sort: str = "distance"
    #: Battery take-back points only: those taking this chemistry (a catalog code such as
    #: `lfp`), and with `takes_damaged`, damaged or defective packs too.
    takes_chemistry: str | None = None
    takes_damaged: bool | None = None


def parse_search_args(args: MultiDict, *, strict: bool = True,
                      require_location: bool = True) -> SearchParams:
    """Check every parameter; raise BadParameter naming the first bad one.

    `strict` refuses unknown parameters (the API); pages ignore them."""
    if strict:
        refuse_unknown(args, SINGLE + REPEATABLE)
    params = SearchParams()
    for name in SINGLE:
        value = single(args, name, allow_empty=not strict)
        if value is not None:
            setattr(params, name, _parse_one(name, value))
    for name, target in (("service", "services"), ("part", "parts")):
        values = args.getlist(name)
        if not strict:
            values = [v for v in values if v.strip()]
        if len(values) > MAX_REPEATS:
            raise BadParameter(_("At most %(max)s values for %(name)s.", max=MAX_REPEATS,
                                 name=name), field=name)
        parsed = [_parse_one(name, check_text(name, v)) for v in values]
        setattr(params, target, list(dict.fromkeys(parsed)))
    if (params.lat is None) != (params.lon is None):
        raise BadParameter(_("Give both lat and lon, or neither."),
                           field="lon" if params.lon is None else "lat")
    if params.lat is not None and params.near:
        raise BadParameter(_("Give either lat and lon or near, not both."), field="near")
    if require_location and params.lat is None and not params.near:
        raise BadParameter(_("Say where to search: near (a place) or lat and lon."),
                           code="missing_location", field="near")
    if params.authorization and not (params.brand or params.model):
        raise BadParameter(_("authorization needs a brand or a model."), field="authorization")
    return params


def _parse_one(name: str, value: str):
    try:
        return _PARSERS[name](value)
    except ValueError as exc:
        message = str(exc) or _("Not a valid value for %(name)s.", name=name)
        raise BadParameter(message, field=name) from None


def _number(minimum: float, maximum: float, *, exclusive_min: bool = False):
    def parse(value: str) -> float:
        if not value.isascii():
            raise ValueError(_("Not a number: %(value)s", value=value))
        try:
            number = float(value)
        except ValueError:
            raise ValueError(_("Not a number: %(value)s", value=value)) from None
        low_ok = number > minimum if exclusive_min else number >= minimum
        if not math.isfinite(number) or not low_ok or number > maximum:
            raise ValueError(_("Must be between %(min)s and %(max)s: %(value)s",
                               min=minimum, max=maximum, value=value))
        return number
    return parse


def _integer(minimum: int, maximum: int):
    def parse(value: str) -> int:
        number = fields.whole_number(value) if value.isascii() and value.isdigit() else None
        if number is None or not minimum <= number <= maximum:
            raise ValueError(_("Must be a whole number from %(min)s to %(max)s: %(value)s",
                               min=minimum, max=maximum, value=value))
        return number
    return parse


def _choice(options: tuple[str, ...]):
    def parse(value: str) -> str:
        if value not in options:
            raise ValueError(_("Must be one of %(options)s: %(value)s",
                               options=", ".join(options), value=value))
        return value
    return parse


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value) or len(value) > 80:
        raise ValueError(_("Not a slug (lower-case letters, digits and hyphens): %(value)s",
                           value=value))
    return value


def _chemistry(value: str) -> str:
    """A battery chemistry code as the catalog writes it (`lfp`, `nmc`), any case."""
    return _slug(value.lower())


def _boolean(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError(_("Must be true or false: %(value)s", value=value))
    return value.lower() == "true"


_PARSERS = {
    "lat": fields.latitude,
    "lon": fields.longitude,
    "near": str,
    "country": fields.country,
    "radius_km": _number(0.0, MAX_RADIUS_KM, exclusive_min=True),
    "limit": _integer(1, MAX_LIMIT),
    "offset": _integer(0, MAX_OFFSET),
    "brand": _slug,
    "model": _slug,
    "service": _slug,
    "part": part_number,
    "language": fields.language,
    "authorization": _choice(AUTH_LEVELS),
    "hv_level": _choice(HV_MINIMUMS),
    "open_now": _boolean,
    "sort": _choice(SORTS),
    "takes_chemistry": _chemistry,
    "takes_damaged": _boolean,
}

