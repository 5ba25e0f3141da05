"""Opening hours in OpenStreetMap syntax, evaluated in the shop's own time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours


@lru_cache(maxsize=4096)
def _parsed(hours: str, zone: str, country: str | None):
    """The parsed hours with the country's public holidays (`PH`). opening-hours-py knows
    the holidays of some countries only (not SA, AE, TH, IN... in 1.x); elsewhere the hours
    still apply and `PH` rules never match, rather than the shop never opening."""
    try:
        return opening_hours.OpeningHours(hours, timezone=ZoneInfo(zone), country=country)
    except opening_hours.UnknownCountryError:
        return _parsed(hours, zone, None) if country else None
    except Exception:  # unparseable stored value (should not happen: checked on write)
        return None


#: (hours, zone, country) -> (valid from, valid until, open?, next change). A state holds
#: by definition from the moment it was computed until its next change, so answering from
#: here is exact, not an approximation; shops share few patterns, so this stays small.
_STATES: dict[tuple, tuple[datetime, datetime, bool, datetime | None]] = {}
_STATES_MAX = 4096
#: How long a state without a next change (always open, always closed) is trusted.
_NO_CHANGE_TRUST = timedelta(hours=1)


def state_at(hours: str | None, zone: str, country: str | None,
             moment: datetime) -> tuple[bool, datetime | None]:
    """(open now?, when that next changes, in the shop's zone). Unknown hours are never
    open and have no next change. Public holidays (`PH`) follow the shop's country."""
    if not hours:
        return False, None
    key = (hours, zone, country)
    known = _STATES.get(key)
    if known is not None and known[0] <= moment < known[1]:
        return known[2], known[3]
    parsed = _parsed(hours, zone, country)
    if parsed is None:
        return False, None
    now = moment.astimezone(ZoneInfo("UTC"))
    is_open, change = bool(parsed.is_open(now)), parsed.next_change(now)
    if len(_STATES) >= _STATES_MAX:
        _STATES.clear()
    _STATES[key] = (moment, change or moment + _NO_CHANGE_TRUST, is_open, change)
    return is_open, change


def weekly_table(hours: str | None, zone: str, country: str | None, start: datetime):
    """Open intervals of the next seven days from `start`, in the shop's zone."""
    if not hours:
        return []
    parsed = _parsed(hours, zone, country)
    if parsed is None:
        return []
    begin = start.astimezone(ZoneInfo(zone))
    end = begin + timedelta(days=7)
    return [(a, b) for a, b, state, _comments in parsed.intervals(begin, end)
            if state == opening_hours.State.OPEN]


def opening_week(hours: str | None, zone: str, country: str | None,
                 now: datetime) -> list[dict]:
    """Seven days from today in the shop's zone: each day's date and its open spans
    (start, end) as local times; `all_day` when open from midnight to midnight."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(0), tzinfo=tz)
    intervals = weekly_table(hours, zone, country, start)
    days = []
    for offset in range(7):
        day = today + timedelta(days=offset)
        begin = datetime.combine(day, time(0), tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        spans = [(max(a, begin), min(b, end)) for a, b in intervals if a < end and b > begin]
        days.append({"date": day, "spans": spans,
                     "all_day": len(spans) == 1 and spans[0] == (begin, end)})
    return days
