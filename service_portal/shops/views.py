"""The owner's shop page (`/shops/<id>`) and the display filters of the owner pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, match_skeleton
from flask import Blueprint, render_template, url_for
from flask_babel import get_locale
from sqlalchemy import select

from ..credentials.queries import verified_claims, with_verification
from ..db import get_session
from ..errors import NotFound
from ..i18n import format_money
from ..names import brand_name
from ..parts.queries import shop_stock
from .documents import shop_documents
from .hours import opening_week, state_at
from .models import Shop
from .queries import listed_shop
from .takeback import EU_EEA, chemistry_name

bp = Blueprint("shops", __name__)

@bp.get("/shops/<id:shop_id>")
def shop(shop_id: int):
    session = get_session()
    if session.scalar(select(Shop.id).where(Shop.id == shop_id, listed_shop())) is None:
        raise NotFound()
    doc = shop_documents(session, [shop_id])[shop_id]
    claims = verified_claims(session, [shop_id], datetime.now(UTC).date())
    doc = with_verification(doc, claims.get(shop_id))
    now = datetime.now(UTC)
    is_open, change = state_at(doc["opening_hours"], doc["timezone"], doc["country"], now)
    brand_names = {b["brand"]: brand_name(b["brand"]) for b in doc["brands"]}
    stock = [line for line in shop_stock(session, shop_id) if line["qty"] > 0]
    return render_template(
        "shops/shop.html", shop=doc, open_now=is_open, next_change=change,
        week=opening_week(doc["opening_hours"], doc["timezone"], doc["country"], now),
        brand_names=brand_names, stock=stock, json_ld=json_ld(doc),
        markers=[marker(doc)], eu_takeback=doc["country"] in EU_EEA)


def marker(doc: dict) -> dict:
    """What the map script needs of one shop (embedded in the page, no second request)."""
    return {"id": doc["id"], "name": doc["name"], "lat": doc["lat"], "lon": doc["lon"],
            "url": url_for("shops.shop", shop_id=doc["id"])}


def json_ld(doc: dict) -> dict:
    """schema.org `AutoRepair` for search engines; rendered with `tojson` (escaped)."""
    data = {"@context": "https://schema.org", "@type": "AutoRepair", "name": doc["name"],
            "url": url_for("shops.shop", shop_id=doc["id"], _external=True),
            "address": {"@type": "PostalAddress", "streetAddress": doc["address"],
                        "addressLocality": doc["city"], "postalCode": doc["postal_code"],
                        "addressCountry": doc["country"]},
            "geo": {"@type": "GeoCoordinates", "latitude": doc["lat"],
                    "longitude": doc["lon"]}}
    if doc["phone"]:
        data["telephone"] = doc["phone"]
    if doc["email"]:
        data["email"] = doc["email"]
    if doc["opening_hours"]:
        data["openingHours"] = [rule.strip() for rule in doc["opening_hours"].split(";")
                                if rule.strip()]
    if safe_link(doc["website"]):
        data["sameAs"] = doc["website"]
    return data


bp.app_template_filter("chemistry_name")(chemistry_name)


@bp.app_template_filter()
def safe_link(url: str | None) -> str | None:
    """A link from data, only when it is http(s)."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


@bp.app_template_filter()
def price(amount: str | None, currency: str) -> str:
    """A decimal string ("49.90") as money in the reader's locale."""
    try:
        return format_money(Decimal(amount or "0"), currency)
    except (InvalidOperation, ValueError):
        return ""


@bp.app_template_filter()
def shop_time(moment: datetime | str | None, zone: str) -> str:
    """A moment in the shop's zone: the weekday and time, in the reader's locale."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return _with_skeleton("EEEHm", moment.astimezone(ZoneInfo(zone)))


@bp.app_template_filter()
def clock(moment: datetime) -> str:
    """A local time of day (hours and minutes) in the reader's locale."""
    return _with_skeleton("Hm", moment)


def _with_skeleton(skeleton: str, moment: datetime) -> str:
    locale = get_locale()
    return format_datetime(moment, _pattern(str(locale), skeleton), locale=locale)


@lru_cache(maxsize=256)
def _pattern(locale: str, skeleton: str):
    """The locale's pattern for a skeleton; Babel's matching is slow, its answer constant."""
    patterns = Locale.parse(locale).datetime_skeletons
    return patterns[match_skeleton(skeleton, patterns) or "Hm"]


@bp.app_template_filter()
def day_name(day: date) -> str:
    return format_date(day, "EEEE", locale=get_locale())


@bp.app_template_filter()
def short_date(day: date | str | None) -> str:
    if not day:
        return ""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return format_date(day, "medium", locale=get_locale())


