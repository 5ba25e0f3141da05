"""Reading markets: one by country, the admin list, a case's support calendar, the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_
from sqlmodel import Session, select

from ..db import utcnow
from .calendar import BusinessCalendar, holiday_language, holiday_names
from .models import Market

#: The admin list's sort columns.
MARKET_SORTS = {"country": Market.country, "retention": Market.retention_days,
                "edited": Market.edited_at}
#: How far ahead the API lists holidays.
HOLIDAYS_AHEAD = timedelta(days=365)


def calendar_of(market: Market) -> BusinessCalendar:
    """The support calendar a market's rows describe."""
    return BusinessCalendar(zone=market.time_zone,
                            workdays=frozenset(int(d) for d in market.workdays),
                            opens=market.opens, closes=market.closes, country=market.country)


def calendar_for(session: Session, country: str | None) -> BusinessCalendar | None:
    """The support calendar of `country`'s market; None (wall-clock time) without one."""
    market = session.get(Market, country) if country else None
    return calendar_of(market) if market is not None else None


def market_countries(session: Session) -> set[str]:
    """The countries that have a market (whose SLA counts business hours)."""
    return set(session.scalars(select(Market.country)))


def list_markets(session: Session, *, text: str = "", edited: bool | None = None,
                 sort: str = "country", descending: bool = False, offset: int = 0,
                 limit: int = 50) -> tuple[int, list[Market]]:
    """(how many match, one page): `text` in the code, authority or currency; `edited`
    only those an operator changed (or only those they did not)."""
    query: Select = select(Market)
    if text:
        like = f"%{text.lower()}%"
        query = query.where(or_(func.lower(Market.country).like(like),
                                func.lower(Market.recall_authority).like(like),
                                func.lower(Market.currency).like(like)))
    if edited is not None:
        query = query.where(Market.edited_at.is_not(None) if edited
                            else Market.edited_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = MARKET_SORTS[sort]
    order = [column.desc() if descending else column.asc(), Market.country]
    rows = list(session.scalars(query.order_by(*order).offset(offset).limit(limit)))
    return total, rows


def upcoming_holidays(market: Market, *, today: date, locale: str = "en"
                      ) -> list[tuple[date, str]]:
    """The market's public holidays of the next twelve months, named in `locale` where
    the `holidays` library can."""
    return holiday_names(market.country, today, today + HOLIDAYS_AHEAD,
                         holiday_language(market.country, locale))


def market_json(market: Market, *, locale: str = "en",
                now: datetime | None = None) -> dict[str, Any]:
    """CONTRACT section 13: the market as the API shows it."""
    today = (now or utcnow()).astimezone(ZoneInfo(market.time_zone)).date()
    return {
        "country": market.country,
        "support": {"time_zone": market.time_zone,
                    "workdays": [int(d) for d in sorted(market.workdays)],
                    "opens": market.opens.strftime("%H:%M"),
                    "closes": market.closes.strftime("%H:%M")},
        "holidays": [{"date": day.isoformat(), "name": name}
                     for day, name in upcoming_holidays(market, today=today, locale=locale)],
        "languages": list(market.languages),
        "currency": market.currency,
        "distance_unit": market.distance_unit,
        "retention_days": market.retention_days,
        "recall_authority": {"name": market.recall_authority or None,
                             "url": market.recall_url or None},
        "rmi_note": market.rmi_note,
        "battery_takeback_rules": market.takeback_rules,
        "version": market.version,
    }
