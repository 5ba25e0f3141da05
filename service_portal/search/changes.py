"""Reading the database for the index: everything once, then what changed since a mark.

The change feed (migrations 0005, 0006 and 0008) stamps each shop with the moment of its
last change that the search reads or shows (the shop, its brands, services, languages,
its organisation's slug, a brand or service it shows being renamed); deleted shops leave
their id and stamp in `search_removed_shops`, and a change to brands, services or models
moves `search_changes.seq`. A mark is (position in the feed, `search_changes.epoch`); an
operator raises the epoch (`service-portal search-check --repair`) to make every process
load its index afresh, after a change that bypassed the triggers. What a stamp and a
position are differs per database:

- SQLite has one writer at a time, so one counter orders every change as it commits:
  the triggers raise `search_changes.seq` and stamp with it; a position is the counter
  as a reader saw it, and what changed since is `search_seq > position`.
- On PostgreSQL writers must not queue for one counter, so the stamp is the writing
  transaction's own id (`pg_current_xact_id()`), and a position is the snapshot the
  reader read in (`pg_current_snapshot()`): what changed since is every stamp that
  snapshot did not see, `NOT pg_visible_in_snapshot(stamp, position)`. Such a stamp is at least the
  snapshot's xmin, so the index on `search_seq` narrows the scan. A transaction still
  running when the snapshot was taken is caught when it commits, whatever its id.

Each read runs in one transaction that sees one state of the database (REPEATABLE READ
on PostgreSQL; any SQLite transaction does), and rows come through the driver's cursor:
a full load of a million shops makes no Python object per link.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Engine

from ..db import driver_mark, id_bind, id_in
from ..shops.models import AUTH_LEVELS, HV_RANK
from .columns import Catalog

#: Rows fetched from the driver at a time.
_CHUNK = 50_000


Mark = tuple[Any, int]


class SQLiteFeed:
    """Positions are the counter `search_changes.seq`."""

    def mark(self, cursor) -> Mark:
        cursor.execute("SELECT seq, epoch FROM search_changes")
        return tuple(cursor.fetchone())

    def since(self, column: str, mark: Mark) -> tuple[str, tuple]:
        return f"{column} > ?", (mark[0],)

    def behind(self, cursor, mark: Mark, *, fresh: bool) -> bool:
        """Whether anything changed after `mark`, or, asked outside any transaction
        (`fresh`), the database went back before it (restored from a backup). Inside an
        older transaction a lower counter only means it began before the mark."""
        seq, epoch = self.mark(cursor)
        return seq > mark[0] or epoch != mark[1] or (fresh and seq < mark[0])

    def restored(self, old: Mark, new: Mark) -> bool:
        """Whether the index must be loaded afresh: the database went back from mark
        `old` to `new`, or the epoch moved."""
        return new[0] < old[0] or new[1] != old[1]

    def pending(self, cursor, mark: Mark) -> int:
        return max(0, self.mark(cursor)[0] - mark[0])


class PostgresFeed:
    """Positions are snapshots (`pg_snapshot` text, "xmin:xmax:xip,...")."""

    def mark(self, cursor) -> Mark:
        cursor.execute("SELECT CAST(pg_current_snapshot() AS text), epoch FROM search_changes")
        return tuple(cursor.fetchone())

    def since(self, column: str, mark: Mark) -> tuple[str, tuple]:
        return (f"{column} >= %s AND NOT pg_visible_in_snapshot("
                f"CAST(CAST({column} AS text) AS xid8), CAST(%s AS pg_snapshot))",
                (int(mark[0].split(":", 1)[0]), mark[0]))

    def behind(self, cursor, mark: Mark, *, fresh: bool) -> bool:
        """Whether any shop, removal or catalog change is stamped by a transaction that
        `mark` did not see, the epoch moved, or transaction ids went back (restored)."""
        checks, args = [], []
        for table, column in (("shops", "search_seq"), ("search_removed_shops", "search_seq"),
                              ("search_changes", "seq")):
            where, values = self.since(column, mark)
            checks.append(f"EXISTS (SELECT 1 FROM {table} WHERE {where})")
            args.extend(values)
        cursor.execute(f"SELECT {' OR '.join(checks)} OR pg_snapshot_xmax("
                       "pg_current_snapshot()) < pg_snapshot_xmax(CAST(%s AS pg_snapshot)) "
                       "OR (SELECT epoch FROM search_changes) <> %s", (*args, *mark))
        return bool(cursor.fetchone()[0])

    def restored(self, old: Mark, new: Mark) -> bool:
        """Whether the index must be loaded afresh: transaction ids went back from mark
        `old` to `new`, or the epoch moved."""
        return int(new[0].split(":")[1]) < int(old[0].split(":")[1]) or new[1] != old[1]

    def pending(self, cursor, mark: Mark) -> int:
        total = 0
        for table in ("shops", "search_removed_shops"):
            where, values = self.since("search_seq", mark)
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", values)
            total += cursor.fetchone()[0]
        return total


def feed_for(dialect_name: str) -> SQLiteFeed | PostgresFeed:
    return PostgresFeed() if dialect_name == "postgresql" else SQLiteFeed()


@dataclass
class ShopRows:
    """Shops as the index holds them, as parallel arrays (one entry per shop)."""

    ids: np.ndarray
    active: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    hours: list[tuple[str, str, str | None] | None]
    hv: np.ndarray
    hv_until: np.ndarray
    stamp: np.ndarray

    @staticmethod
    def of(rows: list) -> ShopRows:
        return ShopRows(
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            lat=np.array([r[1] for r in rows], dtype=np.float64),
            lon=np.array([r[2] for r in rows], dtype=np.float64),
            active=np.array([bool(r[3]) for r in rows], dtype=bool),
            hours=[(r[4], r[5], r[6]) if r[4] else None for r in rows],
            hv=np.array([HV_RANK.get(r[7], 0) for r in rows], dtype=np.int8),
            hv_until=np.array([_ordinal(r[8]) for r in rows], dtype=np.int32),
            stamp=np.array([r[9] for r in rows], dtype=np.int64))

    @staticmethod
    def joined(parts: list[ShopRows]) -> ShopRows:
        if len(parts) == 1:
            return parts[0]
        return ShopRows(**{name: (sum((getattr(p, name) for p in parts), []) if name == "hours"
                                  else np.concatenate([getattr(p, name) for p in parts]))
                           for name in ShopRows.__dataclass_fields__})


@dataclass
class Read:
    """One read: the mark it was taken at; the shops (all, or those changed since the
    previous mark); the trait keys of those shops as (keys, member shop ids); the ids
    of shops deleted since; the catalog."""

    mark: Any
    shops: ShopRows
    links: list[tuple[list[tuple], np.ndarray]]
    removed: np.ndarray
    catalog: Catalog
    restored: bool = False  # the database went back before the previous mark


def read_all(engine: Engine) -> Read:
    """Every shop (active or not) with its links: the first load."""
    with _reading(engine) as (feed, mark, cursor, sql_mark):
        cursor.execute(_SHOPS)
        parts = []
        rows = cursor.fetchmany(_CHUNK)
        while rows:
            parts.append(ShopRows.of(rows))
            rows = cursor.fetchmany(_CHUNK)
        shops = ShopRows.joined(parts) if parts else ShopRows.of([])
        concat = "string_agg(CAST(l.shop_id AS TEXT), ',')" \
            if engine.dialect.name == "postgresql" else "group_concat(l.shop_id)"
        links = []
        for table, (columns, key_of) in _LINKS.items():
            # One row per brand-and-level, service or language, its shops concatenated.
            cursor.execute(f"SELECT {columns}, {concat} FROM {table} l GROUP BY {columns}")
            for *values, members in cursor.fetchall():
                links.append((key_of(*values),
                              np.fromstring(members, dtype=np.int64, sep=",")))
        return Read(mark, shops, links, np.empty(0, dtype=np.int64), _catalog(cursor))


def read_changes(engine: Engine, since: Any) -> Read:
    """The shops stamped after the mark `since` with their links, by id; the shops
    deleted since; the catalog."""
    dialect = engine.dialect.name
    with _reading(engine) as (feed, mark, cursor, sql_mark):
        if feed.restored(since, mark):
            return Read(mark, ShopRows.of([]), [], np.empty(0, dtype=np.int64), Catalog(),
                        restored=True)
        where, args = feed.since("search_seq", since)
        cursor.execute(f"{_SHOPS} WHERE {where}", args)
        shops = ShopRows.of(cursor.fetchall())
        cursor.execute(f"SELECT shop_id FROM search_removed_shops WHERE {where}", args)
        removed = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
        links: list[tuple[list[tuple], np.ndarray]] = []
        if len(shops.ids):
            bind = (id_bind(dialect, shops.ids),)
            for table, (columns, key_of) in _LINKS.items():
                cursor.execute(f"SELECT {columns}, l.shop_id FROM {table} l WHERE "
                               f"{id_in(dialect, 'l.shop_id')}", bind)
                for *values, shop_id in cursor.fetchall():
                    links.append((key_of(*values), np.array([shop_id], dtype=np.int64)))
        return Read(mark, shops, links, removed, _catalog(cursor))


def is_behind(engine: Engine, connection, mark: Any) -> bool:
    """Whether a change was committed after `mark`, asked on `connection` (a pooled
    DBAPI connection a session holds in a transaction, or None for one of its own)."""
    feed = feed_for(engine.dialect.name)
    if connection is not None:
        cursor = connection.cursor()
        try:
            return feed.behind(cursor, mark, fresh=False)
        finally:
            cursor.close()
    pooled = engine.raw_connection()
    try:
        cursor = pooled.cursor()
        answer = feed.behind(cursor, mark, fresh=True)
        cursor.close()
        return answer
    finally:
        pooled.close()  # back to the pool, which rolls back


def feed_start(engine: Engine) -> Mark:
    """A mark before every change (with the current epoch)."""
    with _reading(engine) as (_feed, mark, _cursor, _sql_mark):
        return (-1, mark[1]) if engine.dialect.name != "postgresql" else ("1:1:", mark[1])


def pending_changes(engine: Engine, mark: Any) -> int:
    """How many shops (or, on SQLite, changes) were stamped after `mark`."""
    with _reading(engine) as (feed, _now, cursor, _sql_mark):
        return feed.pending(cursor, mark)


@contextmanager
def _reading(engine: Engine) -> Iterator[tuple[Any, Any, Any, str]]:
    """One read transaction seeing one state of the database in every statement: the
    feed, the mark as of that state, a driver cursor and the driver's parameter mark."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as conn:
        # The first statement through SQLAlchemy opens the transaction (BEGIN on SQLite);
        # on PostgreSQL it also fixes the snapshot every later statement reads.
        conn.exec_driver_sql("SELECT 1")
        cursor = conn.connection.cursor()
        feed = feed_for(engine.dialect.name)
        try:
            yield feed, feed.mark(cursor), cursor, driver_mark(engine.dialect)
        finally:
            cursor.close()
            conn.rollback()


_SHOPS = ("SELECT id, lat, lon, active, opening_hours, timezone, country, hv_level, "
          "hv_valid_until, search_seq FROM shops")


def _catalog(cursor) -> Catalog:
    cursor.execute("SELECT slug, id FROM brands")
    brands = dict(cursor.fetchall())
    cursor.execute("SELECT slug, id FROM services")
    services = dict(cursor.fetchall())
    cursor.execute("SELECT m.slug, m.brand_id, b.slug FROM vehicle_models m "
                   "JOIN brands b ON b.id = m.brand_id")
    return Catalog(brands, services,
                   {slug: (brand_id, brand) for slug, brand_id, brand in cursor.fetchall()})


def _brand_keys(brand_id: int, level: str) -> list[tuple]:
    """A level implies every lower one, so "at least partner" is one bit."""
    return [("brand", brand_id, lower) for lower in AUTH_LEVELS[:AUTH_LEVELS.index(level) + 1]]


#: Link table -> (its key columns, the trait keys one row sets).
_LINKS = {
    "shop_brands": ("l.brand_id, l.level", _brand_keys),
    "shop_services": ("l.service_id", lambda service_id: [("service", service_id)]),
    "shop_languages": ("l.language", lambda code: [("language", code)]),
}


def _ordinal(value) -> int:
    if value is None:
        return -1
    if isinstance(value, str):  # SQLite hands dates back as text
        value = date.fromisoformat(value)
    return value.toordinal()
