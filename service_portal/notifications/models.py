"""The outbox, staff members' choices of what they hear about, and recall alert
subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, String
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow

STATES = ("pending", "sent", "failed")


class Notification(SQLModel, table=True):
    """One message to one recipient. Written in the transaction of the change it tells of,
    so a rolled-back change sends nothing; the worker claims it for a short lease, sends
    it and marks it sent, so a worker that dies mid-send leaves it to the next one."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sent', 'failed')", name="notification_state"),
        Index("ix_notifications_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)
    recipient: str = Field(max_length=254, index=True)
    locale: str = Field(default="en", max_length=10)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default="pending", sa_column=Column(String(10), nullable=False))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Who holds the row and until when: set by a claim, cleared when the row is settled.
    claim: str | None = Field(default=None, max_length=32)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StaffAlertChoice(SQLModel, table=True):
    """What a staff member or admin is told of by email. Empty country and brand lists
    mean every country, every brand."""

    __tablename__ = "staff_alert_choices"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    new_cases: bool = Field(default=False)
    sla_warnings: bool = Field(default=False)
    assignments: bool = Field(default=True)
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    brands: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class AlertSubscription(SQLModel, table=True):
    """An owner's wish to hear of recalls and bulletins for their car: by VIN, or by model
    and year, in a country. Counts only once confirmed (double opt-in)."""

    __tablename__ = "alert_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    locale: str = Field(default="en", max_length=10)
    vin: str | None = Field(default=None, max_length=17)
    brand_id: int = Field(foreign_key="brands.id", index=True)
    model_id: int | None = Field(default=None, foreign_key="vehicle_models.id")
    model_year: int | None = None
    country: str | None = Field(default=None, max_length=2)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
