"""What people read instead of codes: catalog names, countries, languages, times in their zone.

Every page shows brands, models, services, part categories, countries, languages and
moments through these helpers, registered as Jinja filters and globals by `init_app`:

    {{ c.brand|brand_name }}              BYD
    {{ c.model|model_name(c.model_year) }} BYD Atto 3 (2023)
    {{ vehicle_name(c.brand, c.model, c.model_year) }}   the model, else the brand
    {{ c.service|service_name }}          Reifen
    {{ part.category|category_name }}     Bremsen
    {{ c.country|country_name }}          Deutschland
    {{ 'ar'|language_name }}              Arabisch
    {{ part_name(part.name) }}            the name, marked when not in the reader's language
    {{ c.sla_due|local_time }}            4. Dez. 2026, 09:30 MEZ (the reader's zone, shown)
    {{ reader_zone() }}                   Europe/Berlin

Slugs come from the catalog tables (one query per request) and the vocabulary; names
in the reader's language come from the catalogs (gettext) and CLDR (Babel).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_gmt
from babel.dates import format_datetime as babel_format_datetime
from flask import Flask, g, has_app_context, has_request_context
from flask_babel import get_locale
from markupsafe import Markup
from sqlalchemy import select

from . import vocabulary

#: The language the catalog's own texts (part names) are written in.
CATALOG_LANGUAGE = "en"
UTC = "UTC"


# --- Catalog names ---------------------------------------------------------------------

def _catalog_names() -> dict[str, dict]:
    """Brand, model and service names by slug, read once per request: for each, the
    English name and its translations (`names`), and a model's brand slug."""
    cached = g.get("_catalog_names") if has_request_context() else None
    if cached is not None:
        return cached
    from .catalog.models import Brand, Service, VehicleModel
    from .db import get_session

    session = get_session()
    names: dict[str, dict] = {"brand": {}, "model": {}, "service": {}}
    brands = {}
    for brand_id, slug, name, translated in session.execute(
            select(Brand.id, Brand.slug, Brand.name, Brand.names)):
        brands[brand_id] = slug
        names["brand"][slug] = (name, translated or {})
    for slug, name, translated, brand_id in session.execute(
            select(VehicleModel.slug, VehicleModel.name, VehicleModel.names,
                   VehicleModel.brand_id)):
        names["model"][slug] = (name, translated or {}, brands.get(brand_id))
    for slug, name, translated in session.execute(
            select(Service.slug, Service.name, Service.names)):
        names["service"][slug] = (name, translated or {})
    if has_request_context():
        g._catalog_names = names
    return names


def _translated(name: str, translations: dict[str, str]) -> str:
    """The reader's name from a row's `names` (`zh_Hans`, then `zh`), else `name`."""
    if translations:
        locale = _reader_locale()
        for key in (str(locale), locale.language):
            if translations.get(key):
                return translations[key]
    return name


def brand_name(slug: str | None) -> str:
    """A brand slug (`byd`) as its name in the reader's language (`BYD`, `比亚迪`); an
    unknown slug as it is."""
    if not slug:
        return ""
    found = _catalog_names()["brand"].get(slug)
    return _translated(*found) if found else slug


def model_only_name(slug: str | None) -> str:
    """A model slug (`byd-atto-3`) as the model's own name in the reader's language
    (`Atto 3`), without its brand."""
    if not slug:
        return ""
    found = _catalog_names()["model"].get(slug)
    return _translated(found[0], found[1]) if found else slug


def model_name(slug: str | None, year: int | str | None = None) -> str:
    """A model slug (`byd-atto-3`) as brand and model name in the reader's language, with
    the year when given: `BYD Atto 3 (2023)`."""
    if not slug:
        return ""
    found = _catalog_names()["model"].get(slug)
    if found is None:
        name = slug
    else:
        brand = brand_name(found[2]) if found[2] else ""
        name = f"{brand} {_translated(found[0], found[1])}".strip()
    return f"{name} ({year})" if year else name


def vehicle_name(brand: str | None, model: str | None, year: int | str | None = None,
                 unknown: str = "") -> str:
    """The car as people name it: the model when known, else the brand, with the year."""
    if model:
        return model_name(model, year)
    if brand:
        return f"{brand_name(brand)} ({year})" if year else brand_name(brand)
    return unknown


def service_name(slug: str | None) -> str:
    """A service slug (`tyres`) in the reader's language: the operator's translation, else
    the portal's own (its catalogs), else the English name an operator gave it."""
    if not slug:
        return ""
    found = _catalog_names()["service"].get(slug) if has_app_context() else None
    if found and found[1]:
        translated = _translated("", found[1])
        if translated:
            return translated
    if slug in vocabulary.SERVICES or not found:
        return vocabulary.label(vocabulary.SERVICES, slug)
    return found[0]


def category_name(code: str | None) -> str:
    """A part category (`brakes`) in the reader's language."""
    return vocabulary.label(vocabulary.PART_CATEGORIES, code)


def _reader_locale() -> Locale:
    return get_locale() or Locale("en")


def country_name(code: str | None) -> str:
    """An ISO 3166-1 alpha-2 code (`DE`) as the reader calls the country (CLDR)."""
    if not code:
        return ""
    return _reader_locale().territories.get(code.upper(), code)


def language_name(code: str | None) -> str:
    """A BCP 47 code as the reader calls that language (`de` -> "German")."""
    if not code:
        return ""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(_reader_locale())
    except (ValueError, TypeError, UnknownLocaleError):
        return code
    return name or code


def part_name(name: str | None, translations: dict[str, str] | None = None,
              language: str = CATALOG_LANGUAGE) -> Markup:
    """A part's name in the reader's language when the catalog has it; otherwise the
    catalog's own name, tagged with its language and marked, so nobody takes it for a
    translation. `translations` maps a locale (`de`, `pt_BR`) to a name."""
    if not name:
        return Markup("")
    locale = _reader_locale()
    for key in (str(locale), locale.language):
        if translations and translations.get(key):
            return Markup("<bdi>{}</bdi>").format(translations[key])
    if locale.language == language:
        return Markup("<bdi>{}</bdi>").format(name)
    return Markup('<bdi lang="{lang}">{name}</bdi> <small class="lang-fallback">({label})'
                  "</small>").format(lang=language, name=name, label=language_name(language))


# --- Times in the reader's zone -------------------------------------------------------

def valid_zone(name: str | None) -> str | None:
    """`name` when it is an IANA zone this system knows, else None."""
    from .geo.timezones import is_zone

    return name if name and is_zone(name) else None


def organization_zone(session, organization_id: int | None) -> str | None:
    """The zone most of an organisation's shops are in (the first by name on a tie)."""
    if organization_id is None:
        return None
    from .shops.models import Shop

    zones = session.scalars(select(Shop.timezone).where(Shop.organization_id == organization_id)
                            .order_by(Shop.name)).all()
    if not zones:
        return None
    counts = Counter(zones)
    return max(zones, key=lambda zone: counts[zone])


def user_zone(session, user) -> str:
    """The zone a user reads times in: their own choice, else their organisation's shops'
    zone, else UTC."""
    return (valid_zone(getattr(user, "time_zone", None))
            or valid_zone(organization_zone(session, getattr(user, "organization_id", None)))
            or UTC)


def reader_zone() -> str:
    """The signed-in reader's zone (see `user_zone`); UTC for everyone else."""
    if not has_request_context():
        return UTC
    if "_reader_zone" not in g:
        from flask_login import current_user

        zone = UTC
        if current_user and current_user.is_authenticated:
            from .db import get_session

            zone = user_zone(get_session(), current_user.user)
        g._reader_zone = zone
    return g._reader_zone


def _as_moment(moment: datetime | str | None) -> datetime | None:
    if moment is None or moment == "":
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:  # stored moments are UTC
        moment = moment.replace(tzinfo=ZoneInfo(UTC))
    return moment


def zone_label(moment: datetime, zone: str) -> str:
    """The zone as the reader knows it at that moment: an abbreviation their language
    uses (MEZ, CET, UTC), else the offset (GMT+01:00)."""
    locale = _reader_locale()
    local = moment.astimezone(ZoneInfo(zone))
    short = babel_format_datetime(local, "z", tzinfo=ZoneInfo(zone), locale=locale)
    if short and short[0] not in "+-":
        return short
    return get_timezone_gmt(local, "long", locale=locale)


def local_time(moment: datetime | str | None, zone: str | None = None,
               show_date: bool = True) -> str:
    """A moment (datetime or ISO 8601 text) in `zone` (default: the reader's), in the
    reader's locale, without seconds and with the zone shown: `4 Dec 2026, 09:30 CET`."""
    moment = _as_moment(moment)
    if moment is None:
        return ""
    zone = valid_zone(zone) or reader_zone()
    locale = _reader_locale()
    tz = ZoneInfo(zone)
    clock = format_time(moment, "short", tzinfo=tz, locale=locale)
    text = clock
    if show_date:
        day = format_date(moment.astimezone(tz), "medium", locale=locale)
        text = get_datetime_format("medium", locale=locale).replace("{1}", day) \
            .replace("{0}", clock)
    return f"{text} {zone_label(moment, zone)}"


def local_date(moment: date | datetime | str | None, zone: str | None = None) -> str:
    """The day of a moment in the reader's zone (or a plain date), in the reader's locale."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str) and "T" not in moment and len(moment) <= 10:
        moment = date.fromisoformat(moment)
    if isinstance(moment, datetime) or isinstance(moment, str):
        moment = _as_moment(moment).astimezone(ZoneInfo(valid_zone(zone) or reader_zone()))
        moment = moment.date()
    return format_date(moment, "medium", locale=_reader_locale())


#: The regions of the IANA names people pick from (not `Etc/`, `US/` or legacy aliases).
ZONE_REGIONS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/",
                "Europe/", "Indian/", "Pacific/")


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """UTC, then every regional IANA zone by name."""
    return (UTC, *sorted(zone for zone in available_timezones() if zone.startswith(ZONE_REGIONS)))


def zone_choices() -> list[tuple[str, str]]:
    """(IANA name, label) for a zone picker: `Europe/Berlin` reads "Europe/Berlin"."""
    return [(zone, zone.replace("_", " ")) for zone in zone_names()]


# --- Records (audit before/after) as key: value -------------------------------------

_ISO_MOMENT = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
_ISO_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")
#: Keys of stored records whose values are codes, and how each code is named.
_CODED_KEYS = {
    "brand": brand_name, "brands": brand_name, "model": model_name, "models": model_name,
    "service": service_name, "services": service_name, "category": category_name,
    "country": country_name, "language": language_name, "languages": language_name,
    "status": lambda code: vocabulary.label(vocabulary.CASE_STATUSES, code),
    "priority": lambda code: vocabulary.label(vocabulary.CASE_PRIORITIES, code),
}


def readable_value(value, key: str | None = None) -> str:
    """A stored value as text: codes named (by the key they sit under), moments in the
    reader's zone, lists joined, nested records as `key: value`; never JSON escapes."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(vocabulary.YES_NO[value])
    if isinstance(value, dict):
        return "; ".join(f"{k}: {readable_value(v, k)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(readable_value(v, key) for v in value) if value else "—"
    if isinstance(value, str):
        if key in _CODED_KEYS:
            return _CODED_KEYS[key](value)
        if _ISO_MOMENT.match(value):
            try:
                return local_time(value)
            except ValueError:
                return value
        if _ISO_DAY.match(value):
            try:
                return local_date(value)
            except ValueError:
                return value
    return str(value)


def readable_fields(record: dict | None) -> list[tuple[str, str]]:
    """(key, readable value) for each entry of a stored record (an audit before/after)."""
    if not record:
        return []
    if not isinstance(record, dict):
        return [("", readable_value(record))]
    return [(str(key), readable_value(value, str(key))) for key, value in record.items()]


#: The vocabularies `vocab(kind, code)` names codes from.
VOCABULARIES = {"service": vocabulary.SERVICES, "level": vocabulary.AUTH_LEVELS,
                "hv": vocabulary.HV_LEVELS, "reason": vocabulary.MATCH_REASONS,
                "powertrain": vocabulary.POWERTRAINS, "case_status": vocabulary.CASE_STATUSES,
                "priority": vocabulary.CASE_PRIORITIES, "case_event": vocabulary.CASE_EVENTS,
                "role": vocabulary.ROLES, "mail": vocabulary.MAIL_KINDS,
                "audit_action": vocabulary.AUDIT_ACTIONS,
                "audit_record": vocabulary.AUDIT_RECORDS,
                "credential_state": vocabulary.CREDENTIAL_STATES,
                "brand_document": vocabulary.BRAND_DOCUMENTS}


def vocab(kind: str, code: str | None) -> str:
    """The reader's name for a code of one of `VOCABULARIES`: `vocab('service', 'tyres')`
    (services through `service_name`, which knows the ones an operator added)."""
    if kind == "service":
        return service_name(code)
    return vocabulary.label(VOCABULARIES[kind], code)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        brand_name=brand_name, model_name=model_name, service_name=service_name,
        category_name=category_name, country_name=country_name, language_name=language_name,
        local_time=local_time, local_date=local_date, readable_fields=readable_fields)
    from .cases.history import change_lines

    app.jinja_env.globals.update(
        vehicle_name=vehicle_name, part_name=part_name, reader_zone=reader_zone,
        zone_label=zone_label, change_lines=change_lines, vocab=vocab)
