"""Battery take-back points and the coverage aggregate.

- `shop_takeback`: what a shop offering `battery-recycling` accepts (chemistries, damaged
  packs, maximum weight, free or not, producer scheme). The search filters on it, so it
  joins the change feed as the link tables do (migrations 0005 and 0008): a write to it
  stamps its shop, and every process's index reads the shop again at its next search.
- `coverage_daily`: owners' searches per day, brand, service and map cell, and how many
  found an authorised or partner shop (`coverage`); no person, address or point.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEXT = "UPDATE search_changes SET seq = seq + 1 WHERE id = 1;"
_SEQ = "(SELECT seq FROM search_changes WHERE id = 1)"


def upgrade() -> None:
    op.create_table(
        "shop_takeback",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("chemistries", sa.String(length=200), nullable=False),
        sa.Column("damaged", sa.Boolean(), nullable=False),
        sa.Column("max_weight_kg", sa.Integer(), nullable=True),
        sa.Column("free", sa.Boolean(), nullable=False),
        sa.Column("scheme", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("max_weight_kg IS NULL OR max_weight_kg > 0",
                           name="shop_takeback_weight_positive"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("shop_id"),
    )
    op.create_table(
        "coverage_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("brand", sa.String(length=80), nullable=False),
        sa.Column("service", sa.String(length=80), nullable=False),
        sa.Column("cell", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("searches", sa.BigInteger(), nullable=False),
        sa.Column("with_authorised_or_partner", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("searches >= 0 AND with_authorised_or_partner >= 0 "
                           "AND with_authorised_or_partner <= searches",
                           name="coverage_daily_counts"),
        sa.PrimaryKeyConstraint("day", "brand", "service", "cell"),
    )
    op.create_index("ix_coverage_daily_day_brand", "coverage_daily", ["day", "brand"])
    if op.get_bind().dialect.name == "sqlite":
        stamp = f"UPDATE shops SET search_seq = {_SEQ} WHERE id"
        op.execute("CREATE TRIGGER shop_takeback_search_insert AFTER INSERT ON shop_takeback "
                   f"BEGIN {_NEXT} {stamp} = new.shop_id; END")
        op.execute("CREATE TRIGGER shop_takeback_search_update AFTER UPDATE ON shop_takeback "
                   f"BEGIN {_NEXT} {stamp} IN (old.shop_id, new.shop_id); END")
        op.execute("CREATE TRIGGER shop_takeback_search_delete AFTER DELETE ON shop_takeback "
                   f"BEGIN {_NEXT} {stamp} = old.shop_id; END")
    else:
        # The function of migration 0008: stamps the shop with the writing transaction.
        op.execute("CREATE TRIGGER shop_takeback_search_touch AFTER INSERT OR UPDATE OR DELETE "
                   "ON shop_takeback FOR EACH ROW EXECUTE FUNCTION search_touch_shop()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER shop_takeback_search_{event}")
    else:
        op.execute("DROP TRIGGER shop_takeback_search_touch ON shop_takeback")
    op.drop_index("ix_coverage_daily_day_brand", table_name="coverage_daily")
    op.drop_table("coverage_daily")
    op.drop_table("shop_takeback")
