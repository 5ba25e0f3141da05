"""Bulletins with their applicability (brand, models, years, markets) and texts per language."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, String, Text
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow

BULLETIN_KINDS = ("recall", "tsb", "software")
SEVERITIES = ("low", "medium", "high", "critical")


class Bulletin(SQLModel, table=True):
    """A bulletin for one brand. No model rows means every model of the brand; a null
    year means open-ended; no country rows means every market."""

    __tablename__ = "bulletins"
    __table_args__ = (
        CheckConstraint("kind IN ('recall', 'tsb', 'software')", name="bulletin_kind"),
        CheckConstraint("severity IN ('low', 'medium', 'high', 'critical')",
                        name="bulletin_severity"),
        CheckConstraint("year_to IS NULL OR year_from IS NULL OR year_to >= year_from",
                        name="bulletin_years"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    brand_id: int = Field(foreign_key="brands.id", index=True)
    year_from: int | None = None
    year_to: int | None = None
    severity: str = Field(sa_column=Column(String(10), nullable=False))
    published: date = Field(index=True)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class BulletinModel(SQLModel, table=True):
    __tablename__ = "bulletin_models"

    bulletin_id: int = Field(foreign_key="bulletins.id", primary_key=True, ondelete="CASCADE")
    model_id: int = Field(foreign_key="vehicle_models.id", primary_key=True)


class BulletinCountry(SQLModel, table=True):
    __tablename__ = "bulletin_countries"

    bulletin_id: int = Field(foreign_key="bulletins.id", primary_key=True, ondelete="CASCADE")
    country: str = Field(max_length=2, primary_key=True)


class BulletinText(SQLModel, table=True):
    """Title, summary and Markdown body of a bulletin in one locale (`en`, `pt_BR`, ...)."""

    __tablename__ = "bulletin_texts"

    bulletin_id: int = Field(foreign_key="bulletins.id", primary_key=True, ondelete="CASCADE")
    locale: str = Field(max_length=10, primary_key=True)
    title: str = Field(max_length=300)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
