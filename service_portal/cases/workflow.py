"""The rules of a case's life, as plain functions: allowed moves, references, the SLA clock.

Pure (no Flask, no database) so each rule is tested on its own and stated once.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

#: CONTRACT section 6: the only moves a case may make.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"triaged"}),
    "triaged": frozenset({"assigned"}),
    "assigned": frozenset({"in_repair", "waiting_parts"}),
    "in_repair": frozenset({"waiting_parts", "resolved"}),
    "waiting_parts": frozenset({"in_repair", "resolved"}),
    "resolved": frozenset({"closed", "reopened"}),
    "closed": frozenset({"reopened"}),
    "reopened": frozenset({"triaged", "assigned"}),
}
#: The statuses a dealer may move their shop's case into (and only by an allowed move).
DEALER_TARGETS = frozenset({"in_repair", "waiting_parts", "resolved"})
#: Statuses in which the SLA clock no longer runs.
FINISHED = frozenset({"resolved", "closed"})
#: Default hours from opening (or reopening) to the SLA due time, per priority.
DEFAULT_SLA_HOURS: dict[str, int] = {"urgent": 4, "high": 24, "normal": 72, "low": 168}

# Crockford's base 32 without the letters people misread (I, L, O, U).
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 8  # 40 random bits: guessing one among a million cases takes ~10^6 tries


def can_move(current: str, target: str) -> bool:
    """Whether CONTRACT section 6 allows `current` -> `target`."""
    return target in TRANSITIONS.get(current, frozenset())


def is_reference(text: str) -> bool:
    """Whether `text` is shaped like a reference `new_reference` draws."""
    head, _, code = text.rpartition("-")
    prefix, _, year = head.partition("-")
    return (prefix == "SP" and len(year) == 4 and year.isascii() and year.isdigit()
            and len(code) == REFERENCE_LENGTH and all(c in _REFERENCE_ALPHABET for c in code))


def new_reference(year: int) -> str:
    """An unguessable case reference such as `SP-2026-7QK3ZD8M`."""
    code = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return f"SP-{year}-{code}"


def parse_sla_hours(text: str) -> dict[str, int]:
    """`CASE_SLA_HOURS` as `urgent=4,high=24,normal=72,low=168` (missing ones keep defaults)."""
    hours = dict(DEFAULT_SLA_HOURS)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _sep, value = item.partition("=")
        name = name.strip()
        if name not in DEFAULT_SLA_HOURS:
            raise ValueError(f"CASE_SLA_HOURS: unknown priority {name!r}")
        if not value.strip().isdigit() or int(value) <= 0:
            raise ValueError(f"CASE_SLA_HOURS: {name} needs a positive whole number of hours")
        hours[name] = int(value)
    return hours


class Calendar(Protocol):
    """Support time (`markets.calendar.BusinessCalendar`); None counts wall-clock time."""

    def add(self, start: datetime, delta: timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...


def _add(start: datetime, delta: timedelta, calendar: Calendar | None) -> datetime:
    return calendar.add(start, delta) if calendar else start + delta


def sla_due(start: datetime, priority: str, hours: Mapping[str, int],
            calendar: Calendar | None = None) -> datetime:
    """The due time of an SLA clock started at `start`: the priority's hours of support
    time of the case's market (`calendar`), or wall-clock hours without one."""
    return _add(start, timedelta(hours=hours[priority]), calendar)


def sla_after_move(*, status: str, target: str, due: datetime | None,
                   paused_at: datetime | None, now: datetime, priority: str,
                   hours: Mapping[str, int],
                   calendar: Calendar | None = None) -> tuple[datetime | None, datetime | None]:
    """(due, paused_at) after a move: entering `waiting_parts` pauses the clock; leaving it
    restarts it with the time that was left when it stopped (so the due time moves back by
    the pause); reopening starts a fresh clock."""
    if target == "reopened":
        return sla_due(now, priority, hours, calendar), None
    if target == "waiting_parts" and paused_at is None:
        return due, now
    if status == "waiting_parts" and paused_at is not None and due is not None:
        left = calendar.between(paused_at, due) if calendar else due - paused_at
        return _add(now, left, calendar), None
    return due, paused_at


def sla_after_priority(due: datetime | None, old: str, new: str,
                       hours: Mapping[str, int],
                       calendar: Calendar | None = None) -> datetime | None:
    """A priority change moves the due time by the difference of the two allowances."""
    if due is None or old == new:
        return due
    return _add(due, timedelta(hours=hours[new] - hours[old]), calendar)


def sla_breached(*, status: str, due: datetime | None, paused_at: datetime | None,
                 resolved_at: datetime | None, now: datetime) -> bool:
    """Late: an open case past its due time (a paused clock is read where it stopped), or a
    case resolved after it."""
    if due is None:
        return False
    if status in FINISHED:
        return resolved_at is not None and resolved_at > due
    return (paused_at or now) > due
