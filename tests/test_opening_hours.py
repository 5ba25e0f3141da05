"""Opening hours: the remembered state of a pattern always equals a fresh evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import opening_hours
from hypothesis import given, settings
from hypothesis import strategies as st

from service_portal.shops import hours

PATTERNS = [
    ("Mo-Fr 08:00-18:00; Sa 09:00-13:00", "Europe/Berlin", "DE"),
    ("Mo-Fr 08:00-18:00; PH off", "Europe/Oslo", "NO"),
    ("Su-Th 08:00-17:00", "Asia/Riyadh", "SA"),
    ("24/7", "Asia/Singapore", "SG"),
    ("Mo-Sa 07:30-12:00,13:30-19:00", "America/Mexico_City", "MX"),
    ("Mo-Fr 22:00-02:00", "Pacific/Auckland", "NZ"),
    ("off", "Europe/Berlin", "DE"),
]
START = datetime(2026, 3, 20, tzinfo=UTC)  # spans the spring DST changes of both hemispheres


def fresh(pattern: tuple[str, str, str], moment: datetime):
    text, zone, country = pattern
    try:
        parsed = opening_hours.OpeningHours(text, timezone=ZoneInfo(zone), country=country)
    except opening_hours.UnknownCountryError:
        parsed = opening_hours.OpeningHours(text, timezone=ZoneInfo(zone))
    moment = moment.astimezone(ZoneInfo("UTC"))
    return bool(parsed.is_open(moment)), parsed.next_change(moment)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATTERNS),
                          st.integers(min_value=0, max_value=60 * 24 * 30)),
                min_size=1, max_size=40))
def test_remembered_state_equals_fresh_evaluation(asks):
    """Asked in any order (forwards, backwards, at the very instant of a change), the
    answer is what opening-hours-py says for that moment."""
    hours._STATES.clear()
    for pattern, minutes in asks:
        moment = START + timedelta(minutes=minutes)
        assert hours.state_at(*pattern, moment) == fresh(pattern, moment)
        _open, change = fresh(pattern, moment)
        if change is not None:  # the instant of the change itself, and just before it
            for edge in (change, change - timedelta(microseconds=1)):
                assert hours.state_at(*pattern, edge) == fresh(pattern, edge)


def test_hours_apply_where_the_library_knows_no_public_holidays():
    """Saudi Arabia, Thailand, the Emirates: the week's hours still open the shop."""
    tuesday_10 = datetime(2026, 12, 1, 7, tzinfo=UTC)  # 10:00 in Riyadh, 14:00 in Bangkok
    for zone, country in (("Asia/Riyadh", "SA"), ("Asia/Bangkok", "TH"), ("Asia/Dubai", "AE")):
        is_open, change = hours.state_at("Mo-Sa 08:00-20:00", zone, country, tuesday_10)
        assert is_open, country
        assert change is not None and change.hour == 20


def test_unknown_or_broken_hours_are_closed_without_a_change():
    moment = datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert hours.state_at(None, "Europe/Berlin", "DE", moment) == (False, None)
    assert hours.state_at("not hours", "Europe/Berlin", "DE", moment) == (False, None)
