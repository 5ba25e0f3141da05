"""Search change feed, stock: the index answers `part` from memory, so a stock row that
starts or stops counting as "in stock" (qty > 0) stamps its shop with the counter of
migration 0005, as any change to the shop itself does. A sale that leaves stock above
zero stamps nothing on SQLite; on PostgreSQL every transaction writing stock takes the
counter first (once), like every other stamped writer, so that writers cannot deadlock.

A transaction loading stock in bulk stamps its shops once at the end instead (see
`shops.search_feed.bulk_stock_writes`): on PostgreSQL these triggers stand aside while it
has the setting `search.bulk` on (SET LOCAL: for that transaction only); on SQLite it
drops them for its transaction.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 01:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEXT = "UPDATE search_changes SET seq = seq + 1 WHERE id = 1;"
_SEQ = "(SELECT seq FROM search_changes WHERE id = 1)"
#: When a row's "in stock" state or its shop or part changes: which shops to stamp.
_MOVED = ("(old.qty > 0) <> (new.qty > 0) OR (new.qty > 0 AND (old.shop_id <> new.shop_id "
          "OR old.part_id <> new.part_id))")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # No bulk check: a bulk load drops these for its transaction instead.
        stamp = f"UPDATE shops SET search_seq = {_SEQ} WHERE id"
        op.execute("CREATE TRIGGER stock_search_insert AFTER INSERT ON stock "
                   f"WHEN new.qty > 0 BEGIN {_NEXT} {stamp} = new.shop_id; END")
        op.execute("CREATE TRIGGER stock_search_delete AFTER DELETE ON stock "
                   f"WHEN old.qty > 0 BEGIN {_NEXT} {stamp} = old.shop_id; END")
        op.execute("CREATE TRIGGER stock_search_update AFTER UPDATE OF qty, shop_id, part_id "
                   f"ON stock WHEN {_MOVED} BEGIN {_NEXT} {stamp} IN (old.shop_id, "
                   "new.shop_id); END")
        return
    # search_next_seq and search_touch_shop are migration 0005's. `search.bulk` is a
    # setting a bulk load sets for its own transaction only (SET LOCAL).
    single = "current_setting('search.bulk', true) IS DISTINCT FROM 'on'"
    op.execute("CREATE TRIGGER stock_search_next BEFORE INSERT OR UPDATE OF qty, shop_id, "
               f"part_id OR DELETE ON stock FOR EACH STATEMENT WHEN ({single}) "
               "EXECUTE FUNCTION search_next_seq()")
    op.execute("CREATE TRIGGER stock_search_insert AFTER INSERT ON stock FOR EACH ROW "
               f"WHEN (NEW.qty > 0 AND {single}) EXECUTE FUNCTION search_touch_shop()")
    op.execute("CREATE TRIGGER stock_search_delete AFTER DELETE ON stock FOR EACH ROW "
               f"WHEN (OLD.qty > 0 AND {single}) EXECUTE FUNCTION search_touch_shop()")
    moved = _MOVED.replace("old.", "OLD.").replace("new.", "NEW.")
    op.execute("CREATE TRIGGER stock_search_update AFTER UPDATE OF qty, shop_id, part_id ON "
               f"stock FOR EACH ROW WHEN (({moved}) AND {single}) "
               "EXECUTE FUNCTION search_touch_shop()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for event in ("insert", "update", "delete", *(() if sqlite else ("next",))):
        op.execute(f"DROP TRIGGER stock_search_{event}" + ("" if sqlite else " ON stock"))
