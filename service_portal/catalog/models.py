"""Brands, vehicle models and services: the catalog every search and case refers to."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, String
from sqlmodel import Field, SQLModel

POWERTRAINS = ("bev", "phev", "erev")
SLUG_CHECK = "{col} <> '' AND {col} = lower({col})"


class Brand(SQLModel, table=True):
    __tablename__ = "brands"
    __table_args__ = (CheckConstraint(SLUG_CHECK.format(col="slug"), name="brand_slug_lower"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=80)
    parent_group: str | None = Field(default=None, max_length=120)
    website: str | None = Field(default=None, max_length=300)


class VehicleModel(SQLModel, table=True):
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


class Service(SQLModel, table=True):
    """A kind of work a shop offers; `name` is the English name, translated for display."""

    __tablename__ = "services"
    __table_args__ = (CheckConstraint(SLUG_CHECK.format(col="slug"), name="service_slug_lower"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=120)
