"""Search change feed without a lock that writers share, and stock out of the feed.

- Stock leaves the feed: the search asks the database which candidates hold a part
  (`search.stock`), so the stock triggers of migration 0007 go, and a partial index on
  in-stock rows replaces the part-to-shop index of the old part filter.
- On PostgreSQL writers no longer take the counter row: a shop is stamped with its
  writing transaction's id (`pg_current_xact_id()`), and a process that read in a
  snapshot asks for the stamps that snapshot did not see (see `search.changes`). Only
  changes to brands, services and models still write `search_changes.seq`, with their
  transaction's id (an admin's rare edit). Stamps written before are counter values, all
  below any transaction id in use now, so every snapshot sees them as old.
- SQLite keeps its counter: it has one writer at a time anyway.
- `search_changes.epoch`: raised by `service-portal search-check --repair`, it makes
  every process load its index afresh (after a change that bypassed the triggers).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINKS = ("shop_brands", "shop_services", "shop_languages")
_XID = "pg_current_xact_id()::text::bigint"
_SEQ = "(SELECT seq FROM search_changes WHERE id = 1)"
_NEXT = "UPDATE search_changes SET seq = seq + 1 WHERE id = 1;"
_MOVED = ("(old.qty > 0) <> (new.qty > 0) OR (new.qty > 0 AND (old.shop_id <> new.shop_id "
          "OR old.part_id <> new.part_id))")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for event in ("insert", "update", "delete", *(() if sqlite else ("next",))):
        op.execute(f"DROP TRIGGER stock_search_{event}" + ("" if sqlite else " ON stock"))
    op.execute("DROP INDEX ix_stock_part_shop_qty")
    op.execute("CREATE INDEX ix_stock_in_stock ON stock (part_id, shop_id) WHERE qty > 0")
    op.execute("ALTER TABLE search_changes ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0")
    if sqlite:
        return
    for table in ("shops", *LINKS, "organizations"):
        op.execute(f"DROP TRIGGER {table}_search_next ON {table}")
    _functions(_XID, f"search_seq <> {_XID}")
    # Left on brands, services and vehicle_models (migration 0006).
    op.execute(f"""CREATE OR REPLACE FUNCTION search_next_seq() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  UPDATE search_changes SET seq = {_XID} WHERE id = 1 AND seq <> {_XID};
  RETURN NULL;
END $$""")


def _functions(stamp: str, unstamped: str) -> None:
    """The stamping functions of migration 0005 (and 0006), stamping with `stamp` and
    touching only shops for which `unstamped` holds."""
    op.execute(f"""CREATE OR REPLACE FUNCTION search_stamp_shop() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  NEW.search_seq := {stamp};
  IF TG_OP = 'INSERT' THEN
    DELETE FROM search_removed_shops WHERE shop_id = NEW.id;
  END IF;
  RETURN NEW;
END $$""")
    op.execute(f"""CREATE OR REPLACE FUNCTION search_remove_shop() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  INSERT INTO search_removed_shops VALUES (OLD.id, {stamp})
    ON CONFLICT (shop_id) DO UPDATE SET search_seq = EXCLUDED.search_seq;
  RETURN NULL;
END $$""")
    # Setting search_seq (to anything) makes the shop's stamp trigger stamp it afresh.
    op.execute(f"""CREATE OR REPLACE FUNCTION search_touch_shop() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE shops SET search_seq = 0 WHERE id = OLD.shop_id AND {unstamped};
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE shops SET search_seq = 0 WHERE id = NEW.shop_id AND {unstamped};
  END IF;
  RETURN NULL;
END $$""")
    op.execute(f"""CREATE OR REPLACE FUNCTION search_touch_organization() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  UPDATE shops SET search_seq = 0 WHERE organization_id = NEW.id AND {unstamped};
  RETURN NULL;
END $$""")
    for table, link, key in (("brands", "shop_brands", "brand_id"),
                             ("services", "shop_services", "service_id")):
        op.execute(f"""CREATE OR REPLACE FUNCTION search_touch_{table}() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  UPDATE shops SET search_seq = 0 WHERE {unstamped}
     AND id IN (SELECT shop_id FROM {link} WHERE {key} = NEW.id);
  RETURN NULL;
END $$""")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute("DROP INDEX ix_stock_in_stock")
    op.execute("CREATE INDEX ix_stock_part_shop_qty ON stock (part_id, shop_id, qty)")
    op.execute("ALTER TABLE search_changes DROP COLUMN epoch")
    if sqlite:
        stamp = f"UPDATE shops SET search_seq = {_SEQ} WHERE id"
        op.execute("CREATE TRIGGER stock_search_insert AFTER INSERT ON stock "
                   f"WHEN new.qty > 0 BEGIN {_NEXT} {stamp} = new.shop_id; END")
        op.execute("CREATE TRIGGER stock_search_delete AFTER DELETE ON stock "
                   f"WHEN old.qty > 0 BEGIN {_NEXT} {stamp} = old.shop_id; END")
        op.execute("CREATE TRIGGER stock_search_update AFTER UPDATE OF qty, shop_id, part_id "
                   f"ON stock WHEN {_MOVED} BEGIN {_NEXT} {stamp} IN (old.shop_id, "
                   "new.shop_id); END")
        return
    # A counter above every transaction id stamped so far keeps old stamps old.
    op.execute("UPDATE search_changes SET seq = GREATEST(seq, "
               "(SELECT coalesce(max(search_seq), 0) FROM shops), "
               "(SELECT coalesce(max(search_seq), 0) FROM search_removed_shops)) + 1")
    op.execute("""CREATE OR REPLACE FUNCTION search_next_seq() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  UPDATE search_changes SET seq = seq + 1
   WHERE id = 1 AND xmin::text::bigint <> txid_current() % 4294967296;
  RETURN NULL;
END $$""")
    _functions(_SEQ, f"search_seq <> {_SEQ}")
    for table in ("shops", *LINKS, "organizations"):
        op.execute(f"CREATE TRIGGER {table}_search_next BEFORE INSERT OR UPDATE OR DELETE "
                   f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION search_next_seq()")
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
