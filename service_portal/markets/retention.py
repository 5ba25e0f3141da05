"""Retention: the personal data of a case closed longer ago than its market's period goes.

The erasure is the staff erasure's (`cases.services.erase_cases`); a run writes one audit
entry (how many cases, and the cutoff of each market). A case whose country has no market
has no period and is kept; an open, resolved or reopened case is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from ..audit.actors import Actor
from ..audit.models import AuditEntry
from ..audit.services import record
from ..cases.models import Case
from ..cases.services import erase_cases
from ..db import utcnow
from .models import Market

#: The audit entry of a run (its `entity_type`; the action is `privacy.retention`).
RETENTION_ENTITY = "retention"
#: How often the worker runs retention.
RETENTION_EVERY = timedelta(days=1)


@dataclass
class RetentionRun:
    """What a run erased (or, dry, would erase): per market its cutoff, and the cases as
    (reference, country, closed at)."""

    cutoffs: dict[str, datetime] = field(default_factory=dict)
    cases: list[tuple[str, str, datetime]] = field(default_factory=list)


def expired_cases(session: Session, *, now: datetime) -> tuple[dict[str, datetime],
                                                                 list[Case]]:
    """(cutoff per market, the closed, not yet erased cases closed before their market's
    cutoff, oldest first)."""
    cutoffs = {country: now - timedelta(days=days) for country, days in session.execute(
        select(Market.country, Market.retention_days).order_by(Market.country))}
    cases: list[Case] = []
    for country, cutoff in cutoffs.items():
        cases.extend(session.exec(select(Case).where(
            Case.country == country, Case.status == "closed", Case.erased_at.is_(None),
            Case.closed_at.is_not(None), Case.closed_at < cutoff)))
    cases.sort(key=lambda c: (c.closed_at, c.id))
    return cutoffs, cases


def apply_retention(session: Session, *, actor: Actor, now: datetime | None = None,
                    dry_run: bool = False) -> RetentionRun:
    """Erase every expired case (see `expired_cases`) and write one audit entry for the
    run; with `dry_run`, only say which (nothing is written, not even the audit entry)."""
    now = now or utcnow()
    cutoffs, cases = expired_cases(session, now=now)
    run = RetentionRun(cutoffs=cutoffs,
                       cases=[(c.reference, c.country, c.closed_at) for c in cases])
    if dry_run:
        return run
    references = erase_cases(session, cases, actor=actor, now=now)
    erased: dict[str, int] = {}
    for _reference, country, _closed in run.cases:
        erased[country] = erased.get(country, 0) + 1
    record(session, actor=actor, action="privacy.retention", entity_type=RETENTION_ENTITY,
           entity_id=now.date().isoformat(),
           after={"erased": len(references), "cases": references,
                  "markets": {country: {"cutoff": cutoff.isoformat(),
                                        "erased": erased.get(country, 0)}
                              for country, cutoff in cutoffs.items()}})
    return run


def retention_due(session: Session, *, now: datetime | None = None) -> bool:
    """Whether the daily run is due: there are markets, and no run in the last day (by
    the audit log, so restarts and several workers still run it about once a day)."""
    now = now or utcnow()
    if session.scalar(select(func.count()).select_from(Market)) == 0:
        return False
    last = session.scalar(select(func.max(AuditEntry.at))
                          .where(AuditEntry.entity_type == RETENTION_ENTITY))
    return last is None or last <= now - RETENTION_EVERY
