"""Operators: organisations that can be deactivated, stock previews without a shop (an
admin's parts catalog file), versioned reference rows that remember
the operator's edits (and carry translated names), the WMI table, and credential evidence.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCE_TABLES = ("brands", "vehicle_models", "services")


def _operator_edit_columns() -> list[sa.Column]:
    return [sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
            sa.Column("edited_by", sa.String(length=300), nullable=True),
            sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True)]


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): SQLite cannot drop tables while rows refer to them.
    # A parts catalog file waits for its confirmation like a stock file, without a shop.
    with op.batch_alter_table("stock_uploads") as batch_op:
        batch_op.alter_column("shop_id", existing_type=sa.Integer(), nullable=True)
    op.add_column("organizations", sa.Column("active", sa.Boolean(), nullable=False,
                                             server_default=sa.true()))
    op.add_column("organizations", sa.Column("version", sa.Integer(), nullable=False,
                                             server_default="1"))
    for table in REFERENCE_TABLES:
        op.add_column(table, sa.Column("names", sa.JSON(), nullable=False,
                                       server_default="{}"))
        for column in _operator_edit_columns():
            op.add_column(table, column)
    op.create_table(
        "wmi_codes",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("brands", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        *_operator_edit_columns(),
        sa.CheckConstraint("length(code) = 3", name="wmi_code_length"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=True),
        sa.Column("document", sa.String(length=12), nullable=True),
        sa.Column("technician", sa.String(length=120), nullable=True),
        sa.Column("hv_level", sa.String(length=2), nullable=True),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("file_key", sa.String(length=200), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("uploaded_by", sa.String(length=300), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(length=300), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_for", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('brand', 'hv')", name="credential_kind"),
        sa.CheckConstraint("state IN ('pending', 'verified', 'rejected')",
                           name="credential_state"),
        sa.CheckConstraint("kind <> 'brand' OR brand_id IS NOT NULL", name="credential_brand"),
        sa.CheckConstraint("kind <> 'hv' OR (hv_level IN ('1S', '2S', '3S') AND "
                           "valid_until IS NOT NULL)", name="credential_hv"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_credentials_shop_state", "credentials", ["shop_id", "state"])
    op.create_index("ix_credentials_state_uploaded", "credentials", ["state", "uploaded_at"])


def downgrade() -> None:
    op.drop_index("ix_credentials_state_uploaded", table_name="credentials")
    op.drop_index("ix_credentials_shop_state", table_name="credentials")
    op.drop_table("credentials")
    op.drop_table("wmi_codes")
    for table in REFERENCE_TABLES:
        with op.batch_alter_table(table) as batch_op:
            for column in ("edited_at", "edited_by", "version", "names"):
                batch_op.drop_column(column)
    with op.batch_alter_table("organizations") as batch_op:
        batch_op.drop_column("version")
        batch_op.drop_column("active")
    op.execute("DELETE FROM stock_uploads WHERE shop_id IS NULL")
    with op.batch_alter_table("stock_uploads") as batch_op:
        batch_op.alter_column("shop_id", existing_type=sa.Integer(), nullable=False)
