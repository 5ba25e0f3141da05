"""Brands, vehicle models and services: the catalog every search and case refers to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Column, String
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime

POWERTRAINS = ("bev", "phev", "erev")
SLUG_CHECK = "{col} <> '' AND {col} = lower({col})"


class OperatorEdits(SQLModel):
    """What every reference row carries: a version for edits from a form (a stale form is
    a 409) and who last changed it in the admin area. A row an operator edited is theirs:
    loading the reference catalog again leaves it as they left it."""

    version: int = Field(default=1)
    edited_by: str | None = Field(default=None, max_length=300)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TranslatedNames(SQLModel):
    """Names in other languages than English, by locale (`{"zh_Hans": "比亚迪"}`): the
    reader's one when there is one, else the English `name` (or the catalogs' own)."""

    names: dict[str, str] = Field(default_factory=dict, sa_type=JSON)


class Brand(OperatorEdits, TranslatedNames, table=True):
    __tablename__ = "brands"
    __table_args__ = (CheckConstraint(SLUG_CHECK.format(col="slug"), name="brand_slug_lower"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=80)
    parent_group: str | None = Field(default=None, max_length=120)
    website: str | None = Field(default=None, max_length=300)


class VehicleModel(OperatorEdits, TranslatedNames, table=True):
    __tablename__ = "vehicle_models"
    __table_args__ = (
        CheckConstraint(SLUG_CHECK.format(col="slug"), name="model_slug_lower"),
        CheckConstraint("powertrain IN ('bev', 'phev', 'erev')", name="model_powertrain"),
        CheckConstraint("year_to IS NULL OR year_to >= year_from", name="model_years"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    brand_id: int = Field(foreign_key="brands.id", index=True)
    name: str = Field(max_length=80)
    year_from: int
    year_to: int | None = None
    powertrain: str = Field(sa_column=Column(String(4), nullable=False))
    battery_chemistry: str = Field(max_length=20)
    body: str | None = Field(default=None, max_length=30)


class Service(OperatorEdits, TranslatedNames, table=True):
    """A kind of work a shop offers; `name` is the English name, translated for display."""

    __tablename__ = "services"
    __table_args__ = (CheckConstraint(SLUG_CHECK.format(col="slug"), name="service_slug_lower"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=120)


class WmiCode(OperatorEdits, table=True):
    """A world manufacturer identifier (a VIN's first three characters) and the brands it
    names, with the public source that says so. Several brands: a group's shared code, which
    alone cannot tell the brand."""

    __tablename__ = "wmi_codes"
    __table_args__ = (CheckConstraint("length(code) = 3", name="wmi_code_length"),)

    code: str = Field(max_length=3, primary_key=True)
    brands: list[str] = Field(default_factory=list, sa_type=JSON)
    source: str = Field(max_length=500)
    note: str = Field(default="", max_length=1000)
