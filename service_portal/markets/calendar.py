"""Business time: the support hours of a market, in its zone, without its public holidays.

Pure (no Flask, no database): a `BusinessCalendar` is a value built from a market, and the
SLA rules in `cases/workflow.py` take one. Holidays come from the `holidays` library for
the country, evaluated when asked (nothing is stored or fetched).

All arithmetic happens in UTC: each working day contributes the real elapsed time between
its local opening and closing (a day with a daylight-saving change is an hour shorter or
longer, as the clock on the wall says), and Python's same-zone datetime arithmetic, which
ignores such changes, is never used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

#: How far a walk through the calendar goes before giving up (a calendar whose every day
#: is a holiday would otherwise never end): ten years of days.
_MAX_DAYS = 3660


@lru_cache(maxsize=64)
def _public_holidays(country: str) -> holidays.HolidayBase | None:
    """The country's public holidays (years are added as they are asked for)."""
    try:
        return holidays.country_holidays(country)
    except NotImplementedError:  # a country the library does not know: no holidays
        return None


def holiday_names(country: str, start: date, end: date,
                  language: str | None = None) -> list[tuple[date, str]]:
    """The public holidays of `country` from `start` to `end` (both included), by date,
    named in `language` where the library has it (else its default)."""
    try:
        known = holidays.country_holidays(country, years=range(start.year, end.year + 1),
                                          language=language)
    except NotImplementedError:
        return []
    return sorted((day, name) for day, name in known.items() if start <= day <= end)


def holiday_language(country: str, locale: str) -> str | None:
    """The `holidays` language closest to `locale` (`de`, `pt_BR`, `en_US`...) for
    `country`, or None (the library's default) when it has neither it nor English."""
    try:
        supported = holidays.country_holidays(country).supported_languages
    except NotImplementedError:
        return None
    base = locale.split("_")[0]
    for wanted in (locale, base):
        if wanted in supported:
            return wanted
    for code in supported:
        if code.split("_")[0] == base:
            return code
    return "en_US" if "en_US" in supported else None


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Support hours: `workdays` (ISO weekdays, Monday 1 .. Sunday 7) from `opens` to
    `closes` in `zone`, except the public holidays of `country`."""

    zone: str
    workdays: frozenset[int]
    opens: time
    closes: time
    country: str

    def is_working_day(self, day: date) -> bool:
        if day.isoweekday() not in self.workdays:
            return False
        known = _public_holidays(self.country)
        return known is None or day not in known

    def _hours(self, day: date) -> tuple[datetime, datetime]:
        """The day's support hours as UTC instants."""
        zone = ZoneInfo(self.zone)
        return (datetime.combine(day, self.opens, zone).astimezone(UTC),
                datetime.combine(day, self.closes, zone).astimezone(UTC))

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), ZoneInfo(self.zone)).astimezone(UTC)

    def add(self, start: datetime, delta: timedelta) -> datetime:
        """The instant `delta` of support time after `start` (before it, for a negative
        `delta`). Time that ends exactly at closing is due at closing, not next morning."""
        if delta < timedelta(0):
            return self._back(start, -delta)
        if not delta:
            return start
        cursor = start.astimezone(UTC)
        day = cursor.astimezone(ZoneInfo(self.zone)).date()
        left = delta
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                opens, closes = self._hours(day)
                begin = max(cursor, opens)
                if begin < closes:
                    if left <= closes - begin:
                        return begin + left
                    left -= closes - begin
            day += timedelta(days=1)
            cursor = max(cursor, self._midnight(day))
        return start + delta  # no support day in ten years: count wall-clock time

    def _back(self, end: datetime, delta: timedelta) -> datetime:
        if not delta:
            return end
        cursor = end.astimezone(UTC)
        day = cursor.astimezone(ZoneInfo(self.zone)).date()
        left = delta
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                opens, closes = self._hours(day)
                stop = min(cursor, closes)
                if opens < stop:
                    if left <= stop - opens:
                        return stop - left
                    left -= stop - opens
            cursor = min(cursor, self._midnight(day))
            day -= timedelta(days=1)
        return end - delta

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The support time from `start` to `end` (negative when `end` comes first)."""
        if end < start:
            return -self.between(end, start)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        zone = ZoneInfo(self.zone)
        day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        if (last - day).days > _MAX_DAYS:
            return end - start
        total = timedelta(0)
        while day <= last:
            if self.is_working_day(day):
                opens, closes = self._hours(day)
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total
