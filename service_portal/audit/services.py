"""Writing the audit log: one entry, many at once, or an export's entry.

Entries are written in the caller's transaction (flushed, never committed), so a change
and its entry are stored together or not at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, insert, text
from sqlmodel import Session

from ..db import UTCDateTime, utcnow
from .actors import Actor
from .models import AuditEntry

#: (entity id, before, after) of one entry of `record_many`.
Change = tuple[str | int, dict[str, Any] | None, dict[str, Any] | None]


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry: `actor` did `action` to the entity, which went from `before`
    (read before the change) to `after`."""
    entry = AuditEntry(actor_id=actor.user_id, actor_label=actor.label,
                       token_id=actor.token_id, action=action, entity_type=entity_type,
                       entity_id=str(entity_id), before=before, after=after)
    session.add(entry)
    session.flush()
    return entry


def record_many(session: Session, *, actor: Actor, action: str, entity_type: str,
                changes: Iterable[Change]) -> int:
    """Append one entry per (entity id, before, after) of `changes`, all at the same time,
    in one executemany insert; returns how many."""
    at = utcnow()
    rows = [{"at": at, "actor_id": actor.user_id, "actor_label": actor.label,
             "token_id": actor.token_id, "action": action, "entity_type": entity_type,
             "entity_id": str(entity_id), "before": before, "after": after}
            for entity_id, before, after in changes]
    if rows:
        session.execute(insert(AuditEntry.__table__), rows)
    return len(rows)


def record_selected(session: Session, *, actor: Actor, action: str, entity_type: str,
                    select_sql: str, params: Mapping[str, Any] | None = None) -> int:
    """Append one entry per row of `select_sql`, whose columns are `entity_id`, `before`
    and `after` (JSON built by the database): one INSERT ... SELECT, so a large change
    never passes through Python. Returns how many."""
    sql = ("INSERT INTO audit_log (at, actor_id, actor_label, token_id, action, entity_type, "
           "entity_id, before, after) SELECT :audit_at, :audit_actor_id, :audit_actor_label, "
           ":audit_token_id, :audit_action, :audit_entity_type, c.entity_id, c.before, c.after "
           f"FROM ({select_sql}) c")
    statement = text(sql).bindparams(bindparam("audit_at", type_=UTCDateTime))
    result = session.connection().execute(statement, {
        **(params or {}), "audit_at": utcnow(),
        "audit_actor_id": actor.user_id, "audit_actor_label": actor.label,
        "audit_token_id": actor.token_id, "audit_action": action,
        "audit_entity_type": entity_type})
    return result.rowcount


def record_export(session: Session, *, actor: Actor, what: str, entity_type: str,
                  entity_id: str | int, rows: int, details: dict[str, Any] | None = None
                  ) -> AuditEntry:
    """Data left the portal: who took `what` (action `<what>.export`), how many rows, and
    with which filters or format (`details`); never the data itself."""
    return record(session, actor=actor, action=f"{what}.export", entity_type=entity_type,
                  entity_id=entity_id, after={"rows": rows, **(details or {})})


def json_object_sql(dialect_name: str, pairs: Mapping[str, str]) -> str:
    """A JSON object built by the database from SQL expressions: {key: expression}."""
    function = "json_object" if dialect_name == "sqlite" else "json_build_object"
    arguments = ", ".join(f"'{key}', {value}" for key, value in pairs.items())
    return f"{function}({arguments})"
