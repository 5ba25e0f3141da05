"""Organisations, shops, and what each shop offers (brands, services, languages)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Index, String
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow

#: Authorisation levels, lowest first: a minimum-level filter compares ranks.
AUTH_LEVELS = ("independent", "partner", "authorized")
#: High-voltage qualification on staff (DGUV 209-093), lowest first.
HV_LEVELS = ("none", "1S", "2S", "3S")
#: Each HV level's place in HV_LEVELS (a higher level covers the lower ones).
HV_RANK = {level: rank for rank, level in enumerate(HV_LEVELS)}


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    name: str = Field(max_length=200)
    country: str | None = Field(default=None, max_length=2)
    #: An inactive organisation's shops leave the search and its people cannot sign in.
    active: bool = Field(default=True)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Shop(SQLModel, table=True):
    __tablename__ = "shops"
    __table_args__ = (
        CheckConstraint("lat BETWEEN -90 AND 90", name="shop_lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="shop_lon_range"),
        CheckConstraint("hv_level IN ('none', '1S', '2S', '3S')", name="shop_hv_level"),
        CheckConstraint("length(country) = 2", name="shop_country_alpha2"),
        CheckConstraint("version >= 1", name="shop_version_positive"),
        Index("ix_shops_lat_lon", "lat", "lon"),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=80, unique=True)
    organization_id: int = Field(foreign_key="organizations.id", index=True)
    name: str = Field(max_length=200)
    address: str = Field(default="", max_length=300)
    city: str = Field(default="", max_length=120)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(max_length=2)
    lat: float
    lon: float
    timezone: str = Field(max_length=64)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    website: str | None = Field(default=None, max_length=300)
    opening_hours: str | None = Field(default=None, max_length=500)
    hv_level: str = Field(default="none", sa_column=Column(String(4), nullable=False,
                                                           server_default="none"))
    hv_valid_until: date | None = None
    active: bool = Field(default=True)
    version: int = Field(default=1)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ShopBrand(SQLModel, table=True):
    """A shop's authorisation for one brand."""

    __tablename__ = "shop_brands"
    __table_args__ = (
        CheckConstraint("level IN ('independent', 'partner', 'authorized')",
                        name="shop_brand_level"),
        Index("ix_shop_brands_brand_level", "brand_id", "level"),
    )

    shop_id: int = Field(foreign_key="shops.id", primary_key=True, ondelete="CASCADE")
    brand_id: int = Field(foreign_key="brands.id", primary_key=True)
    level: str = Field(sa_column=Column(String(12), nullable=False))


class ShopService(SQLModel, table=True):
    __tablename__ = "shop_services"
    __table_args__ = (Index("ix_shop_services_service", "service_id", "shop_id"),)

    shop_id: int = Field(foreign_key="shops.id", primary_key=True, ondelete="CASCADE")
    service_id: int = Field(foreign_key="services.id", primary_key=True)


class ShopLanguage(SQLModel, table=True):
    """A language spoken at the shop, as a BCP 47 code (`de`, `ar`, `zh`, `pt-BR`)."""

    __tablename__ = "shop_languages"
    __table_args__ = (Index("ix_shop_languages_language", "language", "shop_id"),)

    shop_id: int = Field(foreign_key="shops.id", primary_key=True, ondelete="CASCADE")
    language: str = Field(max_length=20, primary_key=True)


class ShopTakeback(SQLModel, table=True):
    """What a battery take-back point (a shop offering `battery-recycling`) accepts: the
    battery chemistries (the catalog's `battery_chemistry` codes, `;`-separated, sorted),
    damaged or defective packs, a maximum pack weight, whether take-back is free, and the
    producer scheme it belongs to. One row per shop; the search filters on it."""

    __tablename__ = "shop_takeback"
    __table_args__ = (
        CheckConstraint("max_weight_kg IS NULL OR max_weight_kg > 0",
                        name="shop_takeback_weight_positive"),
    )

    shop_id: int = Field(foreign_key="shops.id", primary_key=True, ondelete="CASCADE")
    chemistries: str = Field(default="", max_length=200)
    damaged: bool = Field(default=False)
    max_weight_kg: int | None = Field(default=None)
    free: bool = Field(default=True)
    scheme: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
