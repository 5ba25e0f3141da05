"""Stock rows carry their shop's map cell, so a part search reads only the holders near it.

`stock.cell` is the shop's cell of a quarter degree (see `search.stock.cell_of`), kept
by triggers whatever writes: a new stock row without one gets its shop's, a row moved
to another shop takes the new shop's, and a shop that moves to another cell takes its
stock rows along (its own rows only: no writer waits on another shop). The in-stock
index becomes `(part_id, cell, shop_id) WHERE qty > 0`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cell(sqlite: bool, row: str) -> str:
    """The cell of `row`'s lat and lon (as `search.stock.cell_sql` at this revision)."""
    floor = "CAST({} AS integer)" if sqlite else "CAST(floor({}) AS integer)"
    return (f"{floor.format(f'({row}.lat + 90.0) * 4')} * 2000 + "
            f"{floor.format(f'({row}.lon + 180.0) * 4')}")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("stock", sa.Column("cell", sa.Integer(), nullable=True))
    op.execute(f"UPDATE stock SET cell = (SELECT {_cell(sqlite, 'h')} FROM shops h "
               "WHERE h.id = stock.shop_id)")
    op.execute("DROP INDEX ix_stock_in_stock")
    op.execute("CREATE INDEX ix_stock_in_stock ON stock (part_id, cell, shop_id) "
               "WHERE qty > 0")
    shop_cell = f"(SELECT {_cell(sqlite, 'h')} FROM shops h WHERE h.id = new.shop_id)"
    moved = f"{_cell(sqlite, 'old')} <> {_cell(sqlite, 'new')}"
    if sqlite:
        op.execute("CREATE TRIGGER stock_cell_insert AFTER INSERT ON stock "
                   f"WHEN new.cell IS NULL BEGIN UPDATE stock SET cell = {shop_cell} "
                   "WHERE id = new.id; END")
        op.execute("CREATE TRIGGER stock_cell_shop AFTER UPDATE OF shop_id ON stock "
                   f"WHEN old.shop_id <> new.shop_id BEGIN UPDATE stock SET cell = "
                   f"{shop_cell} WHERE id = new.id; END")
        op.execute("CREATE TRIGGER shops_stock_cell AFTER UPDATE OF lat, lon ON shops "
                   f"WHEN {moved} BEGIN UPDATE stock SET cell = {_cell(sqlite, 'new')} "
                   "WHERE shop_id = new.id; END")
        return
    op.execute(f"""CREATE FUNCTION stock_cell_of_shop() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  NEW.cell := {shop_cell};
  RETURN NEW;
END $$""")
    op.execute(f"""CREATE FUNCTION stock_cell_follow_shop() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  UPDATE stock SET cell = {_cell(sqlite, 'NEW')} WHERE shop_id = NEW.id;
  RETURN NULL;
END $$""")
    op.execute("CREATE TRIGGER stock_cell_insert BEFORE INSERT ON stock FOR EACH ROW "
               "WHEN (NEW.cell IS NULL) EXECUTE FUNCTION stock_cell_of_shop()")
    op.execute("CREATE TRIGGER stock_cell_shop BEFORE UPDATE OF shop_id ON stock FOR EACH ROW "
               "WHEN (OLD.shop_id <> NEW.shop_id) EXECUTE FUNCTION stock_cell_of_shop()")
    op.execute("CREATE TRIGGER shops_stock_cell AFTER UPDATE OF lat, lon ON shops FOR EACH ROW "
               f"WHEN ({moved.replace('old.', 'OLD.').replace('new.', 'NEW.')}) "
               "EXECUTE FUNCTION stock_cell_follow_shop()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for trigger, table in (("stock_cell_insert", "stock"), ("stock_cell_shop", "stock"),
                           ("shops_stock_cell", "shops")):
        op.execute(f"DROP TRIGGER {trigger}" + ("" if sqlite else f" ON {table}"))
    if not sqlite:
        op.execute("DROP FUNCTION stock_cell_of_shop()")
        op.execute("DROP FUNCTION stock_cell_follow_shop()")
    op.execute("DROP INDEX ix_stock_in_stock")
    op.execute("CREATE INDEX ix_stock_in_stock ON stock (part_id, shop_id) WHERE qty > 0")
    with op.batch_alter_table("stock") as batch:
        batch.drop_column("cell")
