"""Where a search happens: coordinates given, or a place resolved by the configured geocoder."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from ..errors import Invalid, PortalError
from ..geo.geocoding import GeocoderUnavailable, Location, UnknownPlace, resolve
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
                      "lon": p.lon} for p in exc.suggestions]) from None
    except GeocoderUnavailable:
        raise GeocoderDown(_("Place search is unavailable right now; try coordinates or "
                             "again in a minute."), field=field,
                           headers={"Retry-After": "30"}) from None
