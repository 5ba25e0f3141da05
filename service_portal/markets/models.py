"""A market: one country's support calendar and the rules that apply there."""

from __future__ import annotations

from datetime import time

from sqlalchemy import JSON, CheckConstraint, Column, String, Text, Time
from sqlmodel import Field

from ..catalog.models import OperatorEdits

DISTANCE_UNITS = ("km", "mi")


class Market(OperatorEdits, table=True):
    """One country (ISO 3166-1 alpha-2). Support works on `workdays` (ISO weekday digits,
    Monday 1 .. Sunday 7) from `opens` to `closes` in `time_zone`, except on the country's
    public holidays, which come from the `holidays` library when asked, never stored."""

    __tablename__ = "markets"
    __table_args__ = (
        CheckConstraint("length(country) = 2 AND country = upper(country)",
                        name="market_country_code"),
        CheckConstraint("workdays <> ''", name="market_workdays"),
        CheckConstraint("opens < closes", name="market_hours"),
        CheckConstraint("distance_unit IN ('km', 'mi')", name="market_distance_unit"),
        CheckConstraint("retention_days > 0", name="market_retention_positive"),
        CheckConstraint("version >= 1", name="market_version_positive"),
    )

    country: str = Field(primary_key=True, max_length=2)
    time_zone: str = Field(max_length=64)
    workdays: str = Field(max_length=7)
    opens: time = Field(sa_column=Column(Time(), nullable=False))
    closes: time = Field(sa_column=Column(Time(), nullable=False))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    currency: str = Field(max_length=3)
    distance_unit: str = Field(sa_column=Column(String(2), nullable=False))
    retention_days: int
    recall_authority: str = Field(default="", max_length=200)
    recall_url: str = Field(default="", max_length=300)
    rmi_note: str = Field(default="", sa_column=Column(Text, nullable=False))
    takeback_rules: str = Field(default="", sa_column=Column(Text, nullable=False))
