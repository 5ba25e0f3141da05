"""Search change feed: each process searches its own in-memory index of the shops, kept
current by the stamps these triggers write.

- `search_changes.seq`: one counter, raised by every write to a shop, its brands,
  services or languages, or its organisation's slug: what a search reads or shows. Its
  row lock orders those writers as they commit: a reader that has seen the counter at S
  has seen every change stamped up to S.
- `shops.search_seq`: the counter value of the shop's last such change. Processes keep
  shop documents with it and know them current while the stamps agree.
- `search_removed_shops`: deleted shops, with the counter value of their deletion.

On PostgreSQL a statement-level trigger raises the counter, once per transaction, before
the statement locks any row, so two writers always take the counter first and the shop
rows after it (no deadlock between them); every row a transaction changes carries its one
number. SQLite has one writer at a time and raises the counter per row.

The R*Tree (SQLite) and the GiST index and Earth-centred columns (PostgreSQL) of
migration 0002 served the search in SQL and go; the index computes those coordinates.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 22:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINKS = ("shop_brands", "shop_services", "shop_languages")
_NEXT = "UPDATE search_changes SET seq = seq + 1 WHERE id = 1;"
_SEQ = "(SELECT seq FROM search_changes WHERE id = 1)"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute("CREATE TABLE search_changes (id INTEGER PRIMARY KEY CHECK (id = 1), "
               "seq BIGINT NOT NULL)")
    op.execute("INSERT INTO search_changes (id, seq) VALUES (1, 0)")
    op.execute("CREATE TABLE search_removed_shops (shop_id INTEGER PRIMARY KEY, "
               "search_seq BIGINT NOT NULL)")
    op.execute("ALTER TABLE shops ADD COLUMN search_seq BIGINT NOT NULL DEFAULT 0")
    op.execute("CREATE INDEX ix_shops_search_seq ON shops (search_seq)")
    if sqlite:
        _sqlite_triggers()
        for name in ("shops_rtree_insert", "shops_rtree_update", "shops_rtree_delete"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE shops_rtree")
    else:
        _postgresql_triggers()
        op.execute("DROP INDEX ix_shops_point")
        for column in ("ecef_x", "ecef_y", "ecef_z"):
            op.execute(f"ALTER TABLE shops DROP COLUMN {column}")


def _sqlite_triggers() -> None:
    stamp = f"UPDATE shops SET search_seq = {_SEQ} WHERE id"
    op.execute(f"CREATE TRIGGER shops_search_insert AFTER INSERT ON shops BEGIN {_NEXT} "
               f"{stamp} = new.id; DELETE FROM search_removed_shops WHERE shop_id = new.id; "
               "END")
    # Any change but the stamp itself (which the link triggers set to a new value).
    op.execute("CREATE TRIGGER shops_search_update AFTER UPDATE ON shops "
               f"WHEN new.search_seq IS old.search_seq BEGIN {_NEXT} {stamp} = new.id; END")
    op.execute(f"CREATE TRIGGER shops_search_delete AFTER DELETE ON shops BEGIN {_NEXT} "
               f"INSERT OR REPLACE INTO search_removed_shops VALUES (old.id, {_SEQ}); END")
    op.execute("CREATE TRIGGER organizations_search_update AFTER UPDATE OF slug ON "
               f"organizations BEGIN {_NEXT} {stamp} IN (SELECT id FROM shops WHERE "
               "organization_id = new.id); END")
    for table in LINKS:
        op.execute(f"CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} BEGIN "
                   f"{_NEXT} {stamp} = new.shop_id; END")
        op.execute(f"CREATE TRIGGER {table}_search_update AFTER UPDATE ON {table} BEGIN "
                   f"{_NEXT} {stamp} IN (old.shop_id, new.shop_id); END")
        op.execute(f"CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} BEGIN "
                   f"{_NEXT} {stamp} = old.shop_id; END")


def _postgresql_triggers() -> None:
    # Once per transaction: a row version this transaction wrote carries its id in xmin.
    # Raising the counter per statement would write one row thousands of times in a bulk
    # load, and each new version of it costs more to find than the last.
    op.execute("""CREATE FUNCTION search_next_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE search_changes SET seq = seq + 1
   WHERE id = 1 AND xmin::text::bigint <> txid_current() % 4294967296;
  RETURN NULL;
END $$""")
    op.execute(f"""CREATE FUNCTION search_stamp_shop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_seq := {_SEQ};
  IF TG_OP = 'INSERT' THEN
    DELETE FROM search_removed_shops WHERE shop_id = NEW.id;
  END IF;
  RETURN NEW;
END $$""")
    op.execute(f"""CREATE FUNCTION search_remove_shop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO search_removed_shops VALUES (OLD.id, {_SEQ})
    ON CONFLICT (shop_id) DO UPDATE SET search_seq = EXCLUDED.search_seq;
  RETURN NULL;
END $$""")
    # Setting search_seq (to anything) makes the shop's stamp trigger stamp it afresh,
    # unless this transaction stamped it already (its stamp is the counter's value).
    op.execute(f"""CREATE FUNCTION search_touch_shop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE shops SET search_seq = 0 WHERE id = OLD.shop_id AND search_seq <> {_SEQ};
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE shops SET search_seq = 0 WHERE id = NEW.shop_id AND search_seq <> {_SEQ};
  END IF;
  RETURN NULL;
END $$""")
    op.execute(f"""CREATE FUNCTION search_touch_organization() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  UPDATE shops SET search_seq = 0 WHERE organization_id = NEW.id AND search_seq <> {_SEQ};
  RETURN NULL;
END $$""")
    for table in ("shops", *LINKS, "organizations"):
        op.execute(f"CREATE TRIGGER {table}_search_next BEFORE INSERT OR UPDATE OR DELETE "
                   f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION search_next_seq()")
    op.execute("CREATE TRIGGER shops_search_stamp BEFORE INSERT OR UPDATE ON shops "
               "FOR EACH ROW EXECUTE FUNCTION search_stamp_shop()")
    op.execute("CREATE TRIGGER organizations_search_touch AFTER UPDATE OF slug ON "
               "organizations FOR EACH ROW EXECUTE FUNCTION search_touch_organization()")
    op.execute("CREATE TRIGGER shops_search_remove AFTER DELETE ON shops FOR EACH ROW "
               "EXECUTE FUNCTION search_remove_shop()")
    for table in LINKS:
        op.execute(f"CREATE TRIGGER {table}_search_touch AFTER INSERT OR UPDATE OR DELETE "
                   f"ON {table} FOR EACH ROW EXECUTE FUNCTION search_touch_shop()")


# WGS-84 as in migration 0002, to put its index back on downgrade.
A_KM = 6378.137
E2 = 0.0066943799901413165


def _ecef(lat: str, lon: str) -> tuple[str, str, str]:
    n = f"({A_KM} / sqrt(1 - {E2} * sin(radians({lat})) * sin(radians({lat}))))"
    return (f"{n} * cos(radians({lat})) * cos(radians({lon}))",
            f"{n} * cos(radians({lat})) * sin(radians({lon}))",
            f"{n} * {1 - E2} * sin(radians({lat}))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("shops_search_insert", "shops_search_update", "shops_search_delete",
                     "organizations_search_update",
                     *(f"{t}_search_{e}" for t in LINKS for e in ("insert", "update",
                                                                  "delete"))):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("CREATE VIRTUAL TABLE shops_rtree USING rtree("
                   "id, min_x, max_x, min_y, max_y, min_z, max_z)")
        x, y, z = _ecef("new.lat", "new.lon")
        insert = (f"INSERT INTO shops_rtree SELECT new.id, {x}, {x}, {y}, {y}, {z}, {z} "
                  "WHERE new.active;")
        op.execute(f"CREATE TRIGGER shops_rtree_insert AFTER INSERT ON shops BEGIN {insert} END")
        op.execute("CREATE TRIGGER shops_rtree_update AFTER UPDATE OF lat, lon, active ON shops "
                   f"BEGIN DELETE FROM shops_rtree WHERE id = old.id; {insert} END")
        op.execute("CREATE TRIGGER shops_rtree_delete AFTER DELETE ON shops BEGIN "
                   "DELETE FROM shops_rtree WHERE id = old.id; END")
        x, y, z = _ecef("lat", "lon")
        op.execute(f"INSERT INTO shops_rtree SELECT id, {x}, {x}, {y}, {y}, {z}, {z} "
                   "FROM shops WHERE active")
        op.execute("DROP INDEX ix_shops_search_seq")
        op.execute("ALTER TABLE shops DROP COLUMN search_seq")
    else:
        for table in ("shops", *LINKS, "organizations"):
            op.execute(f"DROP TRIGGER {table}_search_next ON {table}")
        op.execute("DROP TRIGGER shops_search_stamp ON shops")
        op.execute("DROP TRIGGER organizations_search_touch ON organizations")
        op.execute("DROP TRIGGER shops_search_remove ON shops")
        for table in LINKS:
            op.execute(f"DROP TRIGGER {table}_search_touch ON {table}")
        for name in ("search_next_seq", "search_stamp_shop", "search_remove_shop",
                     "search_touch_shop", "search_touch_organization"):
            op.execute(f"DROP FUNCTION {name}()")
        op.execute("ALTER TABLE shops DROP COLUMN search_seq")
        for column, expr in zip(("ecef_x", "ecef_y", "ecef_z"), _ecef("lat", "lon"),
                                strict=True):
            op.execute(f"ALTER TABLE shops ADD COLUMN {column} double precision "
                       f"GENERATED ALWAYS AS ({expr}) STORED")
        op.execute("CREATE INDEX ix_shops_point ON shops USING gist (point(lon, lat))")
    op.execute("DROP TABLE search_removed_shops")
    op.execute("DROP TABLE search_changes")
