"""Writing notifications: one outbox row per message and recipient, added in the caller's
transaction (flushed with it, never committed here), so that a change that rolls back
tells nobody and one that commits is never lost. What each message says is decided when
it is sent (`messages`), in the recipient's language."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import Session, select

from ..cases.models import Case
from ..catalog.models import Brand
from ..db import utcnow
from ..users.models import User
from .models import AlertSubscription, Notification, StaffAlertChoice

#: Staff hear of a due time this long before it passes.
SLA_WARNING = timedelta(hours=1)
OPEN_STATUSES = ("new", "triaged", "assigned", "in_repair", "reopened")


def enqueue(session: Session, *, kind: str, recipient: str, locale: str = "en",
            case_id: int | None = None, payload: dict[str, Any] | None = None) -> Notification:
    """Add one message for one recipient to the outbox."""
    row = Notification(kind=kind, recipient=recipient, locale=locale or "en", case_id=case_id,
                       payload=payload or {})
    session.add(row)
    return row


def _owner(session: Session, case: Case, kind: str, payload: dict[str, Any]) -> None:
    if case.owner_email and case.owner_updates and case.erased_at is None:
        enqueue(session, kind=kind, recipient=case.owner_email, locale=case.locale,
                case_id=case.id, payload={"reference": case.reference, **payload})


def _staff(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.active and user.role in ("staff", "admin") \
        else None


def _brand_slug(session: Session, case: Case) -> str | None:
    return session.scalar(select(Brand.slug).where(Brand.id == case.brand_id)) \
        if case.brand_id else None


def _choosers(session: Session, case: Case, choice) -> list[User]:
    """Active staff who chose `choice` for the case's country and brand."""
    brand = _brand_slug(session, case)
    rows = session.exec(select(User, StaffAlertChoice)
                        .join(StaffAlertChoice, StaffAlertChoice.user_id == User.id)
                        .where(choice.is_(True), User.active.is_(True),
                               User.role.in_(["staff", "admin"]))).all()
    return [user for user, chosen in rows
            if (not chosen.countries or case.country in chosen.countries)
            and (not chosen.brands or brand in chosen.brands)]


def case_opened(session: Session, case: Case) -> None:
    """The owner's confirmation with the reference; staff who asked to hear of new cases
    in the case's country and brand."""
    _owner(session, case, "case_opened", {})
    for user in _choosers(session, case, StaffAlertChoice.new_cases):
        enqueue(session, kind="staff_new_case", recipient=user.email,
                locale=user.locale or "en", case_id=case.id,
                payload={"reference": case.reference})


def case_changed(session: Session, case: Case, before: dict[str, Any],
                 after: dict[str, Any], *, actor_id: int | None) -> None:
    """A status change tells the owner; a new assignee (an email in `after`) is told,
    unless they took the case themselves or chose not to hear of assignments."""
    if "status" in after and before.get("status") != after["status"]:
        _owner(session, case, "case_status",
               {"before": before.get("status"), "after": after["status"]})
    if after.get("assignee"):
        user = session.exec(select(User).where(User.email == after["assignee"])).first()
        if user is None or user.id == actor_id or _staff(session, user.id) is None:
            return
        chosen = session.get(StaffAlertChoice, user.id)
        if chosen is None or chosen.assignments:
            enqueue(session, kind="staff_assigned", recipient=user.email,
                    locale=user.locale or "en", case_id=case.id,
                    payload={"reference": case.reference})


def public_note(session: Session, case: Case, body: str, *, from_shop: bool) -> None:
    """A note the owner may read is sent to them, with who wrote it (support or the shop)."""
    _owner(session, case, "case_note", {"body": body, "from_shop": from_shop})


def warn_due_soon(session: Session, *, now: datetime | None = None) -> int:
    """Warn staff of open, running cases due within `SLA_WARNING` that were not warned of
    this due time yet: their assignee and staff who chose SLA warnings. Marks each case.
    Returns how many cases were warned."""
    now = now or utcnow()
    cases = session.exec(select(Case).where(
        Case.status.in_(OPEN_STATUSES), Case.sla_paused_at.is_(None),
        Case.sla_due.is_not(None), Case.sla_due <= now + SLA_WARNING, Case.sla_due > now,
        or_(Case.sla_warned_for.is_(None), Case.sla_warned_for != Case.sla_due))
        .with_for_update(skip_locked=True)).all()
    for case in cases:
        told = {}
        if case.assignee_id and (user := _staff(session, case.assignee_id)):
            told[user.email] = user
        for user in _choosers(session, case, StaffAlertChoice.sla_warnings):
            told[user.email] = user
        for email, user in told.items():
            enqueue(session, kind="staff_sla_warning", recipient=email,
                    locale=user.locale or "en", case_id=case.id,
                    payload={"reference": case.reference, "due": case.sla_due.isoformat(),
                             "zone": user.time_zone})
        case.sla_warned_for = case.sla_due
        session.add(case)
    session.flush()
    return len(cases)


def held_on(session: Session, email: str) -> dict[str, Any]:
    """For the privacy export: the messages to `email` (what, when, delivered) and its
    recall alert subscriptions."""
    sent = session.exec(select(Notification).where(Notification.recipient == email)
                        .order_by(Notification.id)).all()
    alerts = session.exec(select(AlertSubscription).where(AlertSubscription.email == email)
                          .order_by(AlertSubscription.id)).all()
    return {"messages": [{"kind": n.kind, "created_at": n.created_at.isoformat(),
                          "state": n.state,
                          "sent_at": n.sent_at.isoformat() if n.sent_at else None}
                         for n in sent],
            "recall_alerts": [{"vin": a.vin, "model_year": a.model_year, "country": a.country,
                               "locale": a.locale, "created_at": a.created_at.isoformat(),
                               "confirmed": a.confirmed_at is not None} for a in alerts]}


def forget(session: Session, email: str) -> None:
    """Erasure: the messages to `email`, sent or waiting, and its alert subscriptions go."""
    session.execute(delete(Notification).where(Notification.recipient == email))
    session.execute(delete(AlertSubscription).where(AlertSubscription.email == email))


def backlog(session: Session, *, now: datetime | None = None) -> dict[str, Any]:
    """For `/healthz?detail=1`: notifications waiting, how old the oldest is, and how many
    failed for good (kept for staff to see)."""
    from sqlalchemy import func

    now = now or utcnow()
    pending, oldest = session.execute(
        select(func.count(), func.min(Notification.created_at))
        .where(Notification.state == "pending")).one()
    failed = session.scalar(select(func.count()).where(Notification.state == "failed"))
    return {"pending": pending, "failed": failed,
            "oldest_pending_seconds": round((now - oldest).total_seconds()) if oldest else 0}


def case_messages(session: Session, case_id: int) -> list[Notification]:
    """The emails of a case, newest first, for its staff page."""
    return list(session.exec(select(Notification).where(Notification.case_id == case_id)
                             .order_by(Notification.id.desc())).all())
