"""Time zones: checking IANA names and deriving a zone from coordinates."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@lru_cache(maxsize=1)
def _finder():
    from timezonefinder import TimezoneFinder

    return TimezoneFinder(in_memory=True)


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone(name: str) -> bool:
    if name not in _known_zones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_at(lat: float, lon: float) -> str:
    """The IANA zone at a point (the sea gets its nautical `Etc/GMT±N` zone)."""
    return _finder().timezone_at(lat=lat, lng=lon) or "UTC"
