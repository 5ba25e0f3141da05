"""Moving a shop's cases to another shop when an admin merges a duplicate shop."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlmodel import Session, select

from ..audit.actors import Actor
from ..db import utcnow
from .models import Case, CaseEvent


def move_cases(session: Session, *, from_shop_id: int, to_shop_id: int, actor: Actor) -> int:
    """Give every case of shop `from_shop_id` to shop `to_shop_id`: each case's version goes
    up (a form opened before the merge is stale) and its history gains a `changed` event
    with the shop before and after, as a staff change of the shop would. Status, SLA and
    assignee stay as they are; nobody is emailed. Returns how many cases moved."""
    ids = list(session.scalars(select(Case.id).where(Case.shop_id == from_shop_id)
                               .order_by(Case.id).with_for_update()))
    if not ids:
        return 0
    now = utcnow()
    session.execute(update(Case).where(Case.id.in_(ids))
                    .values(shop_id=to_shop_id, version=Case.version + 1, updated_at=now)
                    .execution_options(synchronize_session=False))
    session.execute(insert(CaseEvent), [
        {"case_id": case_id, "at": now, "actor_id": actor.user_id,
         "actor_label": actor.label, "kind": "changed", "before": {"shop_id": from_shop_id},
         "after": {"shop_id": to_shop_id}, "internal": False} for case_id in ids])
    return len(ids)
