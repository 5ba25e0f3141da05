"""The worker: claim due notifications, send them, settle each one.

A claim stamps rows with a random claim id and a lease (`MAIL_CLAIM_SECONDS`) in one
statement; on PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so workers on
several hosts take disjoint batches without waiting for each other, and on SQLite the one
writer at a time does the same. A row is settled (sent, retried later, failed) only by the
worker whose claim it still carries. A worker killed between claim and send leaves its
rows to be claimed again when the lease runs out; one killed after the server accepted a
message and before settling it would send it again, with the same Message-ID, so that
receivers can drop the copy.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select, text, update
from sqlmodel import Session

from ..audit.actors import Actor
from ..credentials.services import remind_expiring
from ..db import get_engine, session_scope, utcnow
from ..markets.retention import apply_retention, retention_due
from .alerts import forget_unconfirmed
from .delivery import PermanentFailure, TemporaryFailure, transport_for
from .messages import compose, rendering
from .models import Notification
from .outbox import warn_due_soon

log = logging.getLogger(__name__)
BATCH = 50


def claim(session: Session, *, claim_id: str, now: datetime, lease: timedelta,
          limit: int = BATCH) -> list[int]:
    """Stamp up to `limit` due, unclaimed (or lease-expired) pending rows with `claim_id`
    until `now + lease`; their ids, oldest first."""
    due = (select(Notification.id)
           .where(Notification.state == "pending", Notification.next_attempt_at <= now,
                  (Notification.claimed_until.is_(None)) | (Notification.claimed_until < now))
           .order_by(Notification.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = session.execute(update(Notification).where(Notification.id.in_(due.scalar_subquery()))
                          .values(claim=claim_id, claimed_until=now + lease)
                          .returning(Notification.id)).scalars().all()
    return sorted(ids)


def _settle(session: Session, notification_id: int, claim_id: str, **values) -> bool:
    """Write `values` to the row if this worker still holds it; whether it did."""
    result = session.execute(update(Notification).where(
        Notification.id == notification_id, Notification.claim == claim_id)
        .values(claim=None, claimed_until=None, **values))
    return result.rowcount == 1


def retry_delay(attempts: int, base_seconds: int) -> timedelta:
    """Exponential backoff: base, 2 x base, 4 x base, ... at most an hour."""
    return timedelta(seconds=min(base_seconds * 2 ** max(attempts - 1, 0), 3600))


def deliver_due(app: Flask, transport, *, claim_id: str | None = None,
                now: Callable[[], datetime] = utcnow) -> int:
    """Claim and send one batch; how many rows were claimed. Each row is settled in its
    own transaction right after its send, so a crash loses at most the row in flight."""
    claim_id = claim_id or secrets.token_hex(16)
    lease = timedelta(seconds=app.config["MAIL_CLAIM_SECONDS"])
    engine = get_engine()
    with session_scope(engine, write=True) as session:
        ids = claim(session, claim_id=claim_id, now=now(), lease=lease)
    with session_scope(engine, write=False) as session:
        rows = session.scalars(select(Notification).where(Notification.id.in_(ids))
                               .order_by(Notification.id)).all()
    with rendering(app):
        for row in rows:
            _deliver(app, transport, engine, row, claim_id, now)
    return len(ids)


def _deliver(app: Flask, transport, engine, row: Notification, claim_id: str,
             now: Callable[[], datetime]) -> None:
    """Send one claimed row and settle it: sent, deferred with backoff, or failed."""
    config = app.config
    attempts = row.attempts + 1
    try:
        transport.send(compose(app, row))
    except TemporaryFailure as exc:
        give_up = attempts >= config["MAIL_MAX_ATTEMPTS"]
        values = {"state": "failed"} if give_up else {
            "next_attempt_at": now() + retry_delay(attempts, config["MAIL_RETRY_SECONDS"])}
        outcome = "failed" if give_up else "deferred"
        _settle_in_own_transaction(engine, row.id, claim_id, attempts=attempts,
                                   last_error=str(exc), **values)
    except PermanentFailure as exc:
        outcome = "failed"
        _settle_in_own_transaction(engine, row.id, claim_id, attempts=attempts,
                                   state="failed", last_error=str(exc))
    else:
        outcome = "sent"
        _settle_in_own_transaction(engine, row.id, claim_id, attempts=attempts,
                                   state="sent", sent_at=now(), last_error=None)
    log.info("notification %s (%s): %s", row.id, row.kind, outcome)


def _settle_in_own_transaction(engine, notification_id: int, claim_id: str, **values) -> None:
    with session_scope(engine, write=True) as session:
        if engine.dialect.name == "postgresql":
            # The mark need not wait for the disk: a worker killed now loses nothing (the
            # server has the commit); only a database crash in the next instant could lose
            # it, and then the email is sent once more under the same Message-ID.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        if not _settle(session, notification_id, claim_id, **values):
            log.warning("notification %s: the claim ran out before it was settled",
                        notification_id)


def run(app: Flask, *, once: bool = False, poll_seconds: float = 2.0,
        should_stop: Callable[[], bool] = lambda: False) -> int:
    """Deliver until stopped (or, with `once`, until nothing is due); also warns staff of
    cases coming due, reminds dealers of evidence about to expire and drops recall alert
    subscriptions left unconfirmed past their link, at most once a minute, and applies the
    markets' retention periods once a day. Returns how
    many rows were claimed."""
    transport = transport_for(app.config, app.instance_path)
    log.info("worker sending to %s", transport.where())
    claimed, last_warning = 0, 0.0
    try:
        while not should_stop():
            if time.monotonic() - last_warning >= 60:
                with session_scope(get_engine(), write=True) as session:
                    warn_due_soon(session)
                    forget_unconfirmed(session)  # recall alert links past 72 h
                    remind_expiring(session)  # dealers' evidence 30 days before expiry
                with session_scope(get_engine(), write=True) as session:
                    if retention_due(session):  # once a day, by the last run's audit entry
                        apply_retention(session, actor=Actor.command_line("worker"))
                last_warning = time.monotonic()
            count = deliver_due(app, transport)
            claimed += count
            if count == 0:
                if once:
                    break
                transport.close()  # no idle connection held between batches
                time.sleep(poll_seconds)
    finally:
        transport.close()
    return claimed
