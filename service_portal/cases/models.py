"""Support cases and their append-only event history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow

CASE_STATUSES = ("new", "triaged", "assigned", "in_repair", "waiting_parts", "resolved",
                 "closed", "reopened")
PRIORITIES = ("low", "normal", "high", "urgent")

_in = "{col} IN ({values})".format


class Case(SQLModel, table=True):
    """An owner's request for help. Personal fields are nulled on erasure; the rest stays
    for anonymous statistics."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in(col="status", values=", ".join(f"'{s}'" for s in CASE_STATUSES)),
                        name="case_status"),
        CheckConstraint(_in(col="priority", values=", ".join(f"'{p}'" for p in PRIORITIES)),
                        name="case_priority"),
        CheckConstraint("version >= 1", name="case_version_positive"),
        Index("ix_cases_status_created", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)
    status: str = Field(default="new", sa_column=Column(String(16), nullable=False))
    priority: str = Field(default="normal", sa_column=Column(String(8), nullable=False))
    owner_name: str | None = Field(default=None, max_length=200)
    owner_email: str | None = Field(default=None, max_length=254, index=True)
    owner_phone: str | None = Field(default=None, max_length=20)
    vin: str | None = Field(default=None, max_length=17)
    brand_id: int | None = Field(default=None, foreign_key="brands.id", index=True)
    model_id: int | None = Field(default=None, foreign_key="vehicle_models.id")
    model_year: int | None = None
    country: str = Field(max_length=2, index=True)
    # Where the owner is (a gazetteer place, never a street address): for nearby shops.
    place: str | None = Field(default=None, max_length=200)
    lat: float | None = None
    lon: float | None = None
    service_id: int = Field(foreign_key="services.id")
    description: str | None = Field(default=None, sa_column=Column(Text))
    shop_id: int | None = Field(default=None, foreign_key="shops.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="users.id")
    locale: str = Field(default="en", max_length=10)
    consent_at: datetime = Field(sa_type=UTCDateTime)
    sla_due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The due time staff were last warned of (a new due time is warned of again).
    sla_warned_for: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # False once the owner unsubscribed from this case's emails.
    owner_updates: bool = Field(default=True)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CaseBulletin(SQLModel, table=True):
    __tablename__ = "case_bulletins"

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletins.id", primary_key=True)


class CaseEvent(SQLModel, table=True):
    """One change to a case: who, when, what, before and after. Rows are never deleted,
    and the only update database triggers let through is erasure blanking a note's `body`
    (before/after never hold personal data)."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    actor_label: str = Field(max_length=100)
    kind: str = Field(max_length=30)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    body: str | None = Field(default=None, sa_column=Column(Text))
    internal: bool = Field(default=False)


class SavedFilter(SQLModel, table=True):
    """A queue filter a staff member saved under a name: the queue's query string."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_filter_name"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    query: str = Field(max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CannedReply(SQLModel, table=True):
    """A prepared public answer in one language that staff insert into a note and adapt."""

    __tablename__ = "canned_replies"
    __table_args__ = (UniqueConstraint("locale", "title", name="uq_canned_reply_title"),)

    id: int | None = Field(default=None, primary_key=True)
    locale: str = Field(max_length=10, index=True)
    title: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = Field(default=True)
    version: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
