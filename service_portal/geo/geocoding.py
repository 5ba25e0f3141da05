"""Turning what a user typed as "near" into coordinates: "lat,lon", the gazetteer or Nominatim."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from service_portal.geo.gazetteer import MAX_QUERY_CHARS, Place, get_gazetteer

#: Distinct (query, country, endpoint) answers from Nominatim kept per process.
NOMINATIM_CACHE_SIZE = 1024
#: Suggestions offered for an unknown place, each name at most once per country.
SUGGESTIONS = 5
#: Place names come back in English, matching the GeoNames main names the gazetteer labels.
NOMINATIM_LANGUAGE = "en"

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
# re.ASCII: \d and \s would otherwise accept Arabic-Indic digits and exotic spaces.
_LAT_LON = re.compile(rf"\s*({_NUMBER})\s*,\s*({_NUMBER})\s*", re.ASCII)


class UnknownPlace(Exception):
    """No place goes by `query`; `suggestions` are close matches to offer instead."""

    def __init__(self, query: str, suggestions: list[Place]) -> None:
        super().__init__(f"unknown place: {query!r}")
        self.query = query
        self.suggestions = suggestions


class GeocoderUnavailable(Exception):
    """The online geocoder timed out, refused or answered nonsense."""


@dataclass(frozen=True)
class Location:
    """Where a search is centred; `label` is None when the user typed coordinates."""

    lat: float
    lon: float
    label: str | None
    #: The gazetteer's place, when the offline geocoder found one.
    place: Place | None = None


def parse_lat_lon(text: str) -> tuple[float, float] | None:
    """`(lat, lon)` from "50.11,8.68" or "50.11, 8.68" (ASCII digits, on the globe), else None."""
    match = _LAT_LON.fullmatch(text)
    if match is None:
        return None
    lat, lon = float(match[1]), float(match[2])
    # Overlong digit strings parse to inf, which the range checks also refuse.
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon


def resolve(near: str, *, country: str | None = None, geocoder: str = "offline",
            user_agent: str | None = None,
            nominatim_domain: str = "nominatim.openstreetmap.org",
            nominatim_scheme: str = "https", timeout: float = 3.0) -> Location:
    """The location `near` names: coordinates as typed, else a place looked up with
    `geocoder` ("offline": the gazetteer; "nominatim": an OSM Nominatim server), restricted
    to `country` (ISO alpha-2) when given.

    Raises UnknownPlace when nothing matches (offline, with close matches to suggest),
    GeocoderUnavailable when Nominatim cannot be asked, and ValueError for a bad
    `geocoder` or a Nominatim call without `user_agent` (its usage policy requires one).
    """
    coordinates = parse_lat_lon(near)
    if coordinates is not None:
        return Location(coordinates[0], coordinates[1], None)
    if geocoder == "offline":
        gazetteer = get_gazetteer()
        place = gazetteer.lookup(near, country)
        if place is None:
            raise UnknownPlace(near, distinct_names(gazetteer.suggest(near, country,
                                                                      limit=3 * SUGGESTIONS)))
        return Location(place.lat, place.lon, place.label, place)
    if geocoder == "nominatim":
        if not user_agent:
            raise ValueError("Nominatim needs a user agent that identifies this application")
        query = " ".join(near.split())
        if not query or len(query) > MAX_QUERY_CHARS or not _encodable(query):
            raise UnknownPlace(near, [])
        codes = (country.strip().lower() or None) if country else None
        found = _nominatim_search(query, codes, nominatim_domain, nominatim_scheme,
                                  user_agent, timeout)
        if found is None:
            raise UnknownPlace(near, [])
        return found
    raise ValueError(f"unknown geocoder {geocoder!r}: use 'offline' or 'nominatim'")


def distinct_names(places: list[Place], limit: int = SUGGESTIONS) -> list[Place]:
    """The first of `places` of each name and country, at most `limit`: a suggestion is
    offered as that name and country, which find only the most populous place anyway."""
    seen: set[tuple[str, str]] = set()
    kept: list[Place] = []
    for place in places:
        if (place.name, place.country) not in seen and len(kept) < limit:
            seen.add((place.name, place.country))
            kept.append(place)
    return kept


def _encodable(text: str) -> bool:
    # Lone surrogates cannot go into a URL; no real place name contains one.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=16)
def _nominatim(domain: str, scheme: str, user_agent: str, timeout: float):
    from geopy.geocoders import Nominatim

    return Nominatim(user_agent=user_agent, domain=domain, scheme=scheme, timeout=timeout)


# Keyed on (query, country, domain); the other arguments are fixed per deployment. Misses
# (None) are cached too, errors are not.
@lru_cache(maxsize=NOMINATIM_CACHE_SIZE)
def _nominatim_search(query: str, country: str | None, domain: str, scheme: str,
                      user_agent: str, timeout: float) -> Location | None:
    from geopy import exc

    nominatim = _nominatim(domain, scheme, user_agent, timeout)
    try:
        found = nominatim.geocode(
            query, country_codes=country, language=NOMINATIM_LANGUAGE, addressdetails=True)
    except (exc.GeocoderServiceError, OSError) as error:
        raise GeocoderUnavailable(f"Nominatim at {domain}: {error}") from error
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # geopy parses the answer's fields without checking them.
        raise GeocoderUnavailable(f"Nominatim at {domain} answered nonsense: {error}") from error
    if found is None:
        return None
    if not (math.isfinite(found.latitude) and math.isfinite(found.longitude)):
        raise GeocoderUnavailable(f"Nominatim at {domain} answered nonsense coordinates")
    return Location(found.latitude, found.longitude, _label(found.raw, found.address))


def _label(raw: dict, display_name: str | None) -> str | None:
    """`"Frankfurt am Main, DE"` like the gazetteer's, else Nominatim's display name."""
    name = raw.get("name")
    address = raw.get("address")
    code = address.get("country_code") if isinstance(address, dict) else None
    if isinstance(name, str) and name and isinstance(code, str) and code:
        return f"{name}, {code.upper()}"
    return display_name or None
