"""The coverage aggregate: owners' searches counted per day, brand, service and map cell."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel


class CoverageDay(SQLModel, table=True):
    """Searches of one UTC day for one brand ("" for none) and service ("" for none) in
    one map cell (`coverage.cells`), and how many of them found an authorised or partner
    shop within their radius. Nothing about the person or the exact point is kept:
    several processes add their counts to the same row."""

    __tablename__ = "coverage_daily"
    __table_args__ = (
        CheckConstraint("searches >= 0 AND with_authorised_or_partner >= 0 "
                        "AND with_authorised_or_partner <= searches",
                        name="coverage_daily_counts"),
        Index("ix_coverage_daily_day_brand", "day", "brand"),
    )

    day: date = Field(primary_key=True)
    brand: str = Field(default="", max_length=80, primary_key=True)
    service: str = Field(default="", max_length=80, primary_key=True)
    cell: int = Field(primary_key=True, sa_type=BigInteger, sa_column_kwargs={
        "autoincrement": False})
    country: str = Field(default="", max_length=2)
    searches: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    with_authorised_or_partner: int = Field(default=0, sa_column=Column(BigInteger,
                                                                        nullable=False))
