"""Writing the audit log."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from .models import AuditEntry


def record(
    session: Session,
    *,
    actor_label: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    actor_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit entry in the caller's transaction (flushed, not committed)."""
    entry = AuditEntry(actor_id=actor_id, actor_label=actor_label, action=action,
                       entity_type=entity_type, entity_id=str(entity_id),
                       before=before, after=after)
    session.add(entry)
    session.flush()
    return entry
