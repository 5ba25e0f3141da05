"""A gazetteer place named for a reader: in their script where GeoNames has the name, with
its region (where GeoNames and ISO 3166-2 agree on the code) and its country."""

from __future__ import annotations

import gettext
from functools import lru_cache

import pycountry
from babel import Locale, UnknownLocaleError

from .gazetteer import Place, normalise, script_of

#: The portal's locales written in a non-Latin script, by language.
LOCALE_SCRIPTS = {"ar": "arabic", "zh": "han", "th": "thai"}
#: pycountry's catalogs name some locales differently from the portal.
_PYCOUNTRY_LOCALES = {"zh_Hans": "zh_CN", "zh_Hant": "zh_TW"}


def local_name(place: Place, names: tuple[str, ...], locale: str, typed: str = "") -> str:
    """`place`'s name in `locale`'s script: what the reader `typed` when it is one of the
    place's names in that script, else the first such alternate name, else the main name."""
    script = LOCALE_SCRIPTS.get(locale.split("_")[0])
    if script is None:
        return place.name
    candidates = [name for name in names if script_of(name) == script]
    key = normalise(typed)
    for name in candidates:
        if key and normalise(name) == key:
            return typed.strip()
    return candidates[0] if candidates else place.name


def region_name(country: str, admin1: str, locale: str) -> str | None:
    """The first-level division `admin1` of `country` ("Kentucky"), in `locale` where
    pycountry has it translated; None when unknown. GeoNames' numeric codes (FIPS) are not
    ISO 3166-2 codes, so only letter codes are looked up."""
    if not admin1.isalpha() or not country:
        return None
    division = pycountry.subdivisions.get(code=f"{country.upper()}-{admin1.upper()}")
    if division is None:
        return None
    return _iso3166_2(locale).gettext(division.name)


def country_name(country: str, locale: str) -> str:
    """`country` (alpha-2) in `locale`'s words, from CLDR; the code itself when unknown."""
    try:
        return Locale.parse(locale).territories.get(country.upper(), country)
    except (UnknownLocaleError, ValueError):
        return country


@lru_cache(maxsize=32)
def _iso3166_2(locale: str) -> gettext.NullTranslations:
    wanted = _PYCOUNTRY_LOCALES.get(locale, locale)
    return gettext.translation("iso3166-2", pycountry.LOCALES_DIR,
                               languages=[wanted, wanted.split("_")[0]], fallback=True)
