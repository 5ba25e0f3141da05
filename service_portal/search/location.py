"""Where a search happens: coordinates given, or a place resolved by the configured geocoder."""

from __future__ import annotations

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _

from ..errors import Invalid, PortalError
from ..geo.gazetteer import Place, get_gazetteer
from ..geo.geocoding import GeocoderUnavailable, Location, UnknownPlace, resolve
from ..geo.place_names import country_name, local_name, region_name
from ..i18n import text_direction
from .params import SearchParams


class GeocoderDown(PortalError):
    status, code = 503, "geocoder_unavailable"


def locate(params: SearchParams) -> Location:
    """The search centre; an unknown place is a 422 `unknown_place` with suggestions."""
    if params.lat is not None and params.lon is not None:
        return Location(params.lat, params.lon, None)
    return locate_place(params.near or "", country=params.country)


def locate_place(text: str, *, country: str | None = None, field: str = "near") -> Location:
    """A place name (or "lat,lon") through the configured geocoder; an unknown place is a
    422 `unknown_place` naming `field`, with suggestions."""
    config = current_app.config
    try:
        return resolve(text, country=country, geocoder=config["GEOCODER"],
                       user_agent=config["GEOCODER_USER_AGENT"])
    except UnknownPlace as exc:
        raise Invalid(
            _("We do not know the place “%(place)s”.", place=text),
            code="unknown_place", field=field,
            details=[{"name": p.name, "country": p.country, "label": p.label, "lat": p.lat,
                      "lon": p.lon, "description": describe(p, region=True)}
                     for p in exc.suggestions]) from None
    except GeocoderUnavailable:
        raise GeocoderDown(_("Place search is unavailable right now; try coordinates or "
                             "again in a minute."), field=field,
                           headers={"Retry-After": "30"}) from None


def describe(place: Place, *, typed: str = "", region: bool = False) -> str:
    """`place` in the reader's language: "Frankfort, Kentucky, United States" (with
    `region`), "الرياض، السعودية"; `typed` is kept where it is one of the place's names in
    the reader's script."""
    locale = get_locale()
    code = str(locale or "en")
    # In a right-to-left page each part keeps its own direction ("Frankfurt (Oder)").
    part = _isolated if text_direction(locale) == "rtl" else str
    text = part(local_name(place, get_gazetteer().local_names(place), code, typed))
    division = region_name(place.country, place.admin1, code) if region else None
    if division:
        text = _("%(place)s, %(area)s", place=text, area=part(division))
    return _("%(place)s, %(area)s", place=text, area=part(country_name(place.country, code)))


def _isolated(text: str) -> str:
    """`text` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE (a `bdi` in text)."""
    return f"\u2068{text}\u2069"


def found_place(where: Location, typed: str) -> str | None:
    """What the search found for the place the reader `typed`, in their language; None for
    coordinates. Nominatim's answers are shown as it labels them."""
    if where.place is None:
        return where.label
    return describe(where.place, typed=typed, region=True)
