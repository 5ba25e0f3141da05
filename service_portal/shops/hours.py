"""Opening hours in OpenStreetMap syntax, evaluated in the shop's own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours


@lru_cache(maxsize=4096)
def _parsed(hours: str, zone: str, country: str | None):
    try:
        return opening_hours.OpeningHours(hours, timezone=ZoneInfo(zone), country=country)
    except Exception:  # unparseable stored value (should not happen: checked on write)
        return None


def state_at(hours: str | None, zone: str, country: str | None,
             moment: datetime) -> tuple[bool, datetime | None]:
    """(open now?, when that next changes, in the shop's zone). Unknown hours are never
    open and have no next change. Public holidays (`PH`) follow the shop's country."""
    if not hours:
        return False, None
    parsed = _parsed(hours, zone, country)
    if parsed is None:
        return False, None
    now = moment.astimezone(ZoneInfo("UTC"))
    return bool(parsed.is_open(now)), parsed.next_change(now)


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
