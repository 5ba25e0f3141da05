"""Writing stock in bulk without a trigger per row (the search change feed, migration 0007).

A stock row that starts or stops counting as in stock stamps its shop, one trigger per
row: right for a sale, slow for a million-row import or seed (it doubled the seed's time).
Inside `bulk_stock_writes` those triggers stand aside, and the shops named are stamped
once, set-wise, at the end, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

_SEQ = "(SELECT seq FROM search_changes WHERE id = 1)"


@contextmanager
def bulk_stock_writes(connection: Connection, shops_sql: str,
                      params: tuple = ()) -> Iterator[None]:
    """Stock written on `connection` inside stamps no shop per row; on leaving, every
    shop whose id `shops_sql` (a SELECT of one column, with driver `params`) returns is
    stamped once. Run it inside the writing transaction: what it changes is put back
    before it returns, and after an error inside by the rollback that must follow.

    On PostgreSQL the stock triggers stand aside while the setting `search.bulk` is on,
    set with SET LOCAL (this transaction only). SQLite pays for a row trigger even when
    its condition is false (a 2-million-row seed took a third longer), so there the stock
    triggers are dropped for the load and created again, verbatim, in the same
    transaction: no other connection ever sees them missing."""
    connection.exec_driver_sql("UPDATE search_changes SET seq = seq + 1 WHERE id = 1")
    sqlite = connection.dialect.name == "sqlite"
    triggers = []
    if sqlite:
        triggers = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND "
            "tbl_name = 'stock' AND name LIKE 'stock_search_%'").all()
        for name, _sql in triggers:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    else:
        connection.exec_driver_sql("SET LOCAL search.bulk = 'on'")
    done = False
    try:
        yield
        connection.exec_driver_sql(
            f"UPDATE shops SET search_seq = {_SEQ} WHERE id IN ({shops_sql}) "
            f"AND search_seq <> {_SEQ}", params)
        done = True
    finally:
        with suppress(DBAPIError) if not done else nullcontext():
            for _name, sql in triggers:
                connection.exec_driver_sql(sql)
            if not sqlite:
                connection.exec_driver_sql("SET LOCAL search.bulk = 'off'")
