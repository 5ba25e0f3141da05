"""Search change feed, catalog: the index resolves brand, model and service names itself,
so writes to those tables raise the counter of migration 0005 too, and a new brand or
service slug re-stamps the shops whose documents show it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEXT = "UPDATE search_changes SET seq = seq + 1 WHERE id = 1;"
_SEQ = "(SELECT seq FROM search_changes WHERE id = 1)"
#: Catalog table -> (the columns the index reads, the link table naming its shops).
CATALOG = {"brands": ("slug", "shop_brands"), "services": ("slug", "shop_services"),
           "vehicle_models": ("slug, brand_id", None)}
_LINK_KEY = {"shop_brands": "brand_id", "shop_services": "service_id"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, (columns, links) in CATALOG.items():
            op.execute(f"CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} "
                       f"BEGIN {_NEXT} END")
            op.execute(f"CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} "
                       f"BEGIN {_NEXT} END")
            touch = "" if links is None else (
                f"UPDATE shops SET search_seq = {_SEQ} WHERE id IN (SELECT shop_id FROM "
                f"{links} WHERE {_LINK_KEY[links]} = new.id);")
            op.execute(f"CREATE TRIGGER {table}_search_update AFTER UPDATE OF {columns} ON "
                       f"{table} BEGIN {_NEXT} {touch} END")
        return
    for table, (columns, links) in CATALOG.items():
        # search_next_seq (migration 0005): the counter first, once per transaction.
        op.execute(f"CREATE TRIGGER {table}_search_next BEFORE INSERT OR UPDATE OF {columns} "
                   f"OR DELETE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION "
                   "search_next_seq()")
        if links is not None:
            op.execute(f"""CREATE FUNCTION search_touch_{table}() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN
  UPDATE shops SET search_seq = 0 WHERE search_seq <> {_SEQ}
     AND id IN (SELECT shop_id FROM {links} WHERE {_LINK_KEY[links]} = NEW.id);
  RETURN NULL;
END $$""")
            op.execute(f"CREATE TRIGGER {table}_search_touch AFTER UPDATE OF slug ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION search_touch_{table}()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, (_columns, links) in CATALOG.items():
        if sqlite:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_search_{event}")
            continue
        op.execute(f"DROP TRIGGER {table}_search_next ON {table}")
        if links is not None:
            op.execute(f"DROP TRIGGER {table}_search_touch ON {table}")
            op.execute(f"DROP FUNCTION search_touch_{table}()")
