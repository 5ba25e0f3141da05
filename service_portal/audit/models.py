"""Audit log rows; never updated or deleted (database triggers refuse it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    actor_label: str = Field(max_length=100)
    # The API token the change came through (its id; tokens are revoked, never deleted).
    token_id: int | None = Field(default=None)
    action: str = Field(max_length=50)
    entity_type: str = Field(max_length=30)
    entity_id: str = Field(max_length=80)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
