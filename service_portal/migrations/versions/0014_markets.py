"""Markets: one record per country (ISO 3166-1 alpha-2) with the rules that apply there.

Support week and hours (in the market's zone; public holidays come from the `holidays`
library at run time, never stored), languages, currency, distance unit, how long a closed
case's personal data is kept, the recall authority, the RMI access note and the battery
take-back rules. Reference rows: versioned, remembering the operator's edits (0013).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "markets",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("workdays", sa.String(length=7), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("distance_unit", sa.String(length=2), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("recall_authority", sa.String(length=200), nullable=False),
        sa.Column("recall_url", sa.String(length=300), nullable=False),
        sa.Column("rmi_note", sa.Text(), nullable=False),
        sa.Column("takeback_rules", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("edited_by", sa.String(length=300), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(country) = 2 AND country = upper(country)",
                           name="market_country_code"),
        sa.CheckConstraint("workdays <> ''", name="market_workdays"),
        sa.CheckConstraint("opens < closes", name="market_hours"),
        sa.CheckConstraint("distance_unit IN ('km', 'mi')", name="market_distance_unit"),
        sa.CheckConstraint("retention_days > 0", name="market_retention_positive"),
        sa.CheckConstraint("version >= 1", name="market_version_positive"),
        sa.PrimaryKeyConstraint("country"),
    )


def downgrade() -> None:
    op.drop_table("markets")
