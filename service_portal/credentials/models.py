"""Evidence for what a shop declares: a brand authorisation's contract or certificate, and
each technician's high-voltage qualification certificate (DGUV 209-093)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow

#: What a piece of evidence is for.
KINDS = ("brand", "hv")
#: The documents that show a brand authorisation.
BRAND_DOCUMENTS = ("contract", "certificate")
#: The levels a technician's HV certificate can state, lowest first.
CERTIFICATE_LEVELS = ("1S", "2S", "3S")
#: A review's outcome; `pending` until staff look at it.
STATES = ("pending", "verified", "rejected")


class Credential(SQLModel, table=True):
    """One uploaded piece of evidence and staff's review of it. The file itself lives in
    the evidence storage under `file_key`, never in the web root."""

    __tablename__ = "credentials"
    __table_args__ = (
        CheckConstraint("kind IN ('brand', 'hv')", name="credential_kind"),
        CheckConstraint("state IN ('pending', 'verified', 'rejected')", name="credential_state"),
        CheckConstraint("kind <> 'brand' OR brand_id IS NOT NULL", name="credential_brand"),
        CheckConstraint("kind <> 'hv' OR (hv_level IN ('1S', '2S', '3S') AND "
                        "valid_until IS NOT NULL)", name="credential_hv"),
        Index("ix_credentials_shop_state", "shop_id", "state"),
        Index("ix_credentials_state_uploaded", "state", "uploaded_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", ondelete="CASCADE")
    kind: str = Field(max_length=5)
    brand_id: int | None = Field(default=None, foreign_key="brands.id")
    document: str | None = Field(default=None, max_length=12)
    technician: str | None = Field(default=None, max_length=120)
    hv_level: str | None = Field(default=None, max_length=2)
    issuer: str = Field(default="", max_length=200)
    valid_until: date | None = None
    file_key: str = Field(max_length=200)
    file_name: str = Field(max_length=200)
    content_type: str = Field(max_length=40)
    size: int
    sha256: str = Field(max_length=64)
    state: str = Field(default="pending", max_length=10)
    reason: str | None = Field(default=None, max_length=500)
    uploaded_by: str = Field(max_length=300)
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reviewed_by: str | None = Field(default=None, max_length=300)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The expiry date a reminder was sent for (a renewed certificate gets its own).
    reminded_for: date | None = None
    version: int = Field(default=1)
