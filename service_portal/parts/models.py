"""Parts (with supersession and fitment) and stock per shop and part."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary, Numeric, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow

PART_CATEGORIES = (
    "brakes", "filters", "electrical", "hv-battery", "charging", "thermal", "suspension",
    "body", "glass", "adas", "lighting", "interior", "tyres-wheels", "drivetrain", "service-kit",
)


class Part(SQLModel, table=True):
    __tablename__ = "parts"
    __table_args__ = (
        CheckConstraint("superseded_by_id IS NULL OR superseded_by_id <> id",
                        name="part_not_its_own_successor"),
    )

    id: int | None = Field(default=None, primary_key=True)
    part_number: str = Field(max_length=40, unique=True)
    brand_id: int = Field(foreign_key="brands.id", index=True)
    name: str = Field(max_length=200)
    category: str = Field(max_length=30)
    superseded_by_id: int | None = Field(default=None, foreign_key="parts.id", index=True)


class PartFitment(SQLModel, table=True):
    __tablename__ = "part_fitments"
    __table_args__ = (Index("ix_part_fitments_model", "model_id", "part_id"),)

    part_id: int = Field(foreign_key="parts.id", primary_key=True, ondelete="CASCADE")
    model_id: int = Field(foreign_key="vehicle_models.id", primary_key=True)


class Stock(SQLModel, table=True):
    """How many of a part one shop holds, at what price; `version` guards optimistic writes."""

    __tablename__ = "stock"
    __table_args__ = (
        UniqueConstraint("shop_id", "part_id", name="uq_stock_shop_part"),
        CheckConstraint("qty >= 0", name="stock_qty_non_negative"),
        CheckConstraint("min_qty >= 0", name="stock_min_qty_non_negative"),
        CheckConstraint("price IS NULL OR price >= 0", name="stock_price_non_negative"),
        CheckConstraint("length(currency) = 3", name="stock_currency_iso4217"),
        CheckConstraint("version >= 1", name="stock_version_positive"),
        # The part filter of the search asks it who holds a part near the search.
        Index("ix_stock_in_stock", "part_id", "cell", "shop_id", sqlite_where=text("qty > 0"),
              postgresql_where=text("qty > 0")),
    )

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="shops.id", ondelete="CASCADE")
    part_id: int = Field(foreign_key="parts.id")
    qty: int = Field(default=0)
    price: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    currency: str = Field(max_length=3)
    min_qty: int = Field(default=0)
    version: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: The shop's map cell (`search.stock`), set by triggers (migration 0009).
    cell: int | None = Field(default=None)


class StockUpload(SQLModel, table=True):
    """An uploaded stock file between its preview and its commit, kept in the database so
    that any app host can finish what another began."""

    __tablename__ = "stock_uploads"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    #: The shop of a dealer's stock file; none for an admin's parts catalog file.
    shop_id: int | None = Field(default=None, foreign_key="shops.id", ondelete="CASCADE")
    filename: str = Field(max_length=200)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
