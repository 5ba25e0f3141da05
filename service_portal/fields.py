"""Field checks shared by several domains: countries, currencies, languages, phones, links.

Each returns the normalised value or raises `ValueError` with a translated message, so
row parsers and request schemas report the same words for the same mistake.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from flask_babel import gettext as _

_ASCII_INT = re.compile(r"[0-9]{1,9}")
# A decimal with one separator ('.' or ',' as Excel writes it in many locales) and at most
# two decimals, so that "1,234" (a thousands separator?) is refused as ambiguous.
_ASCII_DECIMAL = re.compile(r"([0-9]{1,10})(?:[.,]([0-9]{1,2}))?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# C0 and C1 control characters and DEL: a terminal or log viewer acts on them (ESC starts
# an escape sequence, BEL rings) and no name needs one. One line of text also refuses
# line and paragraph separators; a text block keeps tab, CR and LF (a textarea sends CRLF).
_CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_BLOCK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Refused(ValueError):
    """A value refused with a message written (and translated) for the person who typed
    it, so that a schema error may show it as it is."""


def is_single_line(value: str) -> bool:
    """True for text without control characters, tabs or line breaks."""
    return _CONTROL_IN_LINE.search(value) is None


def single_line_text(value: str) -> str:
    """A name or other one-line text: no control characters, tabs or line breaks."""
    if not is_single_line(value):
        raise Refused(_("Control characters and line breaks are not allowed here."))
    return value


def multi_line_text(value: str) -> str:
    """A description or note: line breaks and tabs, but no other control characters."""
    if _CONTROL_IN_BLOCK.search(value):
        raise Refused(_("Control characters are not allowed here."))
    return value


def country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(_("Not an ISO 3166-1 alpha-2 country code: %(value)s", value=value))
    return code


@lru_cache(maxsize=1024)
def _is_currency(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


def currency(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 3 or not code.isascii() or not _is_currency(code):
        raise ValueError(_("Not an ISO 4217 currency code: %(value)s", value=value))
    return code


def language(value: str) -> str:
    """A BCP 47 tag with a known ISO 639 language and an optional region (`pt-BR`)."""
    parts = value.strip().replace("_", "-").split("-")
    lang = parts[0].lower()
    known = lang.isascii() and (
        (len(lang) == 2 and pycountry.languages.get(alpha_2=lang) is not None)
        or (len(lang) == 3 and pycountry.languages.get(alpha_3=lang) is not None)
    )
    if not known or len(parts) > 2:
        raise ValueError(_("Not a language code: %(value)s", value=value))
    if len(parts) == 2:
        region = parts[1]
        if len(region) == 4 and region.isascii() and region.isalpha():
            return f"{lang}-{region.title()}"
        return f"{lang}-{country(region)}"
    return lang


def phone_e164(value: str, region: str | None) -> str:
    """A phone number valid for its country, in E.164 (`+4969123456`)."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValueError(_("Not a valid phone number: %(value)s", value=value))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(value: str) -> str:
    text = value.strip()
    if len(text) > 254 or not _EMAIL.fullmatch(text) or _CONTROL_IN_LINE.search(text):
        raise ValueError(_("Not a valid email address: %(value)s", value=value))
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def web_link(value: str) -> str:
    """Links from data are http(s) only, so a `javascript:` URL never reaches a page."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(text) > 300 \
            or _CONTROL_IN_LINE.search(text):
        raise ValueError(_("Not a web address starting with http:// or https://: %(value)s",
                           value=value))
    return text


def slug(value: str) -> str:
    text = value.strip()
    if not _SLUG.fullmatch(text) or len(text) > 80:
        raise ValueError(_("Not a slug (lower-case letters, digits and hyphens): %(value)s",
                           value=value))
    return text


def slug_from(text: str) -> str:
    """A slug made from a name (`Nord Motors GmbH & Co.` -> `nord-motors-gmbh-co`, other
    scripts transliterated by python-slugify), at most 80 characters; empty when nothing
    of the name can be written in a-z and 0-9: the person then types one."""
    from slugify import slugify

    return slugify(text, max_length=80)


def whole_number(value: str, *, minimum: int = 0) -> int:
    """A plain whole number in ASCII digits: no sign, no Unicode digits, no NaN."""
    text = value.strip()
    if not _ASCII_INT.fullmatch(text) or int(text) < minimum:
        raise ValueError(_("Not a whole number of at least %(minimum)s: %(value)s",
                           minimum=minimum, value=value))
    return int(text)


def decimal_amount(value: str) -> Decimal:
    """A non-negative amount with at most two decimals ('12.50' or '12,50')."""
    text = value.strip()
    match = _ASCII_DECIMAL.fullmatch(text)
    if not match:
        raise ValueError(_("Not an amount of at least 0 with at most two decimals: %(value)s",
                           value=value))
    try:
        return Decimal(f"{match.group(1)}.{match.group(2) or '0'}")
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise ValueError(_("Not a number: %(value)s", value=value)) from None


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(_("Not a date in the form YYYY-MM-DD: %(value)s", value=value)) from None


#: Coordinates are kept to 1e-7 degrees (about 1 cm): finer digits are noise, and tiny
#: values such as 1e-308 would underflow PostgreSQL's float arithmetic.
COORDINATE_DECIMALS = 7


def latitude(value: str) -> float:
    number = _finite_ascii_float(value)
    if number is None or not -90 <= number <= 90:
        raise ValueError(_("Not a latitude between -90 and 90: %(value)s", value=value))
    return round(number, COORDINATE_DECIMALS) + 0.0


def longitude(value: str) -> float:
    number = _finite_ascii_float(value)
    if number is None or not -180 <= number <= 180:
        raise ValueError(_("Not a longitude between -180 and 180: %(value)s", value=value))
    return round(number, COORDINATE_DECIMALS) + 0.0


def _finite_ascii_float(value: str) -> float | None:
    text = value.strip()
    if not text.isascii():
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
