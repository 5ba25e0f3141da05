"""Locale selection and the Babel formatting helpers (distances, money, dates)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, get_locale

from .config import SUPPORTED_LOCALES

LOCALE_COOKIE = "lang"
#: Locales whose readers think in miles; they use the `en` catalog.
MILES_LOCALES = ("en_GB", "en_US")
KM_PER_MILE = 1.609344


def _normalise(tag: str) -> str | None:
    """Map a user-supplied tag (`pt-br`, `zh-CN`, `EN_us`) onto a supported locale, or None."""
    if not tag or len(tag) > 35:
        return None
    try:
        loc = Locale.parse(tag.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    candidates = [str(loc)]
    if loc.script:
        candidates.append(f"{loc.language}_{loc.script}")
    if loc.territory:
        candidates.append(f"{loc.language}_{loc.territory}")
    if loc.language == "zh":
        candidates.append("zh_Hans")
    if loc.language in ("no", "nn"):
        candidates.append("nb")
    if loc.language == "pt":
        candidates.append("pt_BR")
    candidates.append(loc.language)
    for cand in candidates:
        if cand in SUPPORTED_LOCALES or cand in MILES_LOCALES:
            return cand
    return None


def select_locale() -> str:
    """An explicit choice (`lang=`, then the cookie), then Accept-Language, then the default."""
    if not has_request_context():
        return current_app.config["DEFAULT_LOCALE"]
    for explicit in (request.args.get("lang"), request.cookies.get(LOCALE_COOKIE)):
        chosen = _normalise(explicit or "")
        if chosen:
            return chosen
    for tag, _quality in request.accept_languages:
        chosen = _normalise(tag)
        if chosen:
            return chosen
    return current_app.config["DEFAULT_LOCALE"]


def html_lang() -> str:
    """The `lang` attribute of pages: a BCP 47 tag (`pt-BR`, `zh-Hans`)."""
    return str(get_locale()).replace("_", "-")


def language_choices() -> list[tuple[str, str]]:
    """(code, the language's own name) for the switcher: each reads its own language."""
    return [(code, _capitalised(Locale.parse(code).get_display_name(code)))
            for code in SUPPORTED_LOCALES]


def country_choices() -> list[tuple[str, str]]:
    """(ISO 3166-1 alpha-2 code, name in the reader's language), sorted by name."""
    import pycountry

    names = (get_locale() or Locale("en")).territories
    return sorted(((c.alpha_2, names.get(c.alpha_2, c.name)) for c in pycountry.countries),
                  key=lambda pair: pair[1].casefold())


def _capitalised(name: str) -> str:
    return name[:1].upper() + name[1:]


def text_direction(locale: Locale | None = None) -> str:
    loc = locale or get_locale()
    return loc.text_direction if loc else "ltr"


def format_distance(km: float, locale: Locale | None = None) -> str:
    """A distance in kilometres, or miles for readers who use them."""
    loc = locale or get_locale()
    if str(loc) in MILES_LOCALES:
        return format_unit(round(km / KM_PER_MILE, 1), "length-mile", length="short", locale=loc)
    return format_unit(round(km, 1), "length-kilometer", length="short", locale=loc)


def format_money(amount: Decimal | float, currency: str, locale: Locale | None = None) -> str:
    return format_currency(amount, currency, locale=locale or get_locale())


def format_number(value: float | int | Decimal, locale: Locale | None = None) -> str:
    return format_decimal(value, locale=locale or get_locale())


def format_moment(moment: datetime, zone: str | None = None) -> str:
    """A date and time in the reader's locale, in `zone` (default: UTC)."""
    from babel.dates import format_datetime

    return format_datetime(moment, format="medium", tzinfo=ZoneInfo(zone or "UTC"),
                           locale=get_locale())


def format_iso_moment(text: str | None, zone: str | None = None) -> str:
    """An ISO 8601 timestamp from a JSON document, formatted as `format_moment` does."""
    return format_moment(datetime.fromisoformat(text), zone) if text else ""


def to_zone(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def init_app(app: Flask, translations_dir: str) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", translations_dir)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", app.config["DEFAULT_LOCALE"])
    Babel(app, locale_selector=select_locale)

    @app.after_request
    def _remember_choice(response):
        """An explicit `lang=` is kept in a cookie, so the next page speaks it too."""
        chosen = _normalise(request.args.get("lang") or "")
        if chosen and request.cookies.get(LOCALE_COOKIE) != chosen:
            response.set_cookie(LOCALE_COOKIE, chosen, max_age=365 * 24 * 3600,
                                httponly=True, samesite="Lax",
                                secure=app.config["SESSION_COOKIE_SECURE"])
        return response
    app.jinja_env.globals.update(text_direction=text_direction, html_lang=html_lang,
                                 language_choices=language_choices)
    app.jinja_env.filters.update(distance=format_distance, money=format_money,
                                 number=format_number, datetime=format_moment,
                                 isodatetime=format_iso_moment)
