"""A market's support week and hours as the reader reads them (CLDR day names, times)."""

from __future__ import annotations

from babel.dates import format_time, get_day_names
from flask_babel import get_locale

from .models import Market


def _locale() -> str:
    return str(get_locale() or "en")


def day_names(width: str = "wide") -> dict[int, str]:
    """ISO weekday (Monday 1 .. Sunday 7) -> its name in the reader's language."""
    names = get_day_names(width, locale=_locale())
    return {day: names[day - 1] for day in range(1, 8)}


def week_label(workdays: str) -> str:
    """`12345` as "Mon–Fri", `71234` as "Sun–Thu"; days that do not follow each other are
    listed ("Mon, Wed, Fri")."""
    days = sorted({int(d) for d in workdays if d in "1234567"})
    if not days:
        return ""
    names = day_names("abbreviated")
    # Start the week at a working day whose day before is not one (Sunday for Sun-Thu).
    first = next((d for d in days if (d - 2) % 7 + 1 not in days), days[0])
    ordered = sorted(days, key=lambda d: (d - first) % 7)
    contiguous = all((b - a) % 7 == 1 for a, b in zip(ordered, ordered[1:], strict=False))
    if contiguous and len(ordered) > 2:
        return f"{names[ordered[0]]}–{names[ordered[-1]]}"
    return ", ".join(names[d] for d in ordered)


def hours_label(market: Market) -> str:
    """"Sun–Thu 09:00–17:00" in the reader's language (the zone is shown apart)."""
    locale = _locale()
    opens = format_time(market.opens, format="short", locale=locale)
    closes = format_time(market.closes, format="short", locale=locale)
    return f"{week_label(market.workdays)} {opens}–{closes}"
