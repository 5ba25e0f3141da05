"""Reading the database for the index: everything once, then what changed since a mark.

The change feed (migrations 0005, 0006 and 0008) stamps each shop with the moment of its
last change that the search reads or shows (the shop, its brands, services, languages,
what it takes back as a battery take-back point (migration 0015), its organisation's
slug, a brand or service it shows being renamed); deleted shops leave their id and
stamp in `search_removed_shops`, and a change to brands, services or models moves
`search_changes.seq`. A mark is (position in the feed, `search_changes.epoch`); an
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

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Engine, event

from ..db import id_bind, id_in
from ..shops.models import AUTH_LEVELS, HV_RANK
from .columns import Catalog

#: Rows fetched from the driver at a time.
_CHUNK = 50_000


Mark = tuple[Any, int]


class SQLiteFeed:
    """Positions are the counter `search_changes.seq`."""

    MARK = "SELECT seq, epoch FROM search_changes"

    def mark(self, cursor) -> Mark:
        cursor.execute(self.MARK)
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

    MARK = "SELECT CAST(pg_current_snapshot() AS text), epoch FROM search_changes"

    def mark(self, cursor) -> Mark:
        cursor.execute(self.MARK)
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
            # Ordered and limited, so the planner walks the stamp index from the mark
            # even when its statistics are stale (after a bulk load they made it scan).
            checks.append(f"(SELECT {column} FROM {table} WHERE {where} ORDER BY {column} "
                          "LIMIT 1) IS NOT NULL")
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


class Reader:
    """The index's own connections to the database, kept outside the pool and in
    autocommit mode: the question before each search is one round trip (a pooled
    connection would add a ping, a BEGIN and a rollback). One is in use per thread at a
    time; up to IDLE_KEPT wait between uses. A connection that fails is closed, and the
    next use opens another."""

    IDLE_KEPT = 4

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.feed = feed_for(engine.dialect.name)
        self._idle: list = []
        self._lock = threading.Lock()
        # Whoever closes the engine's connections closes ours too.
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def read_all(self) -> Read:
        """Every shop (active or not) with its links: the first load."""
        with self._reading() as (mark, cursor):
            cursor.execute(_SHOPS)
            parts = []
            rows = cursor.fetchmany(_CHUNK)
            while rows:
                parts.append(ShopRows.of(rows))
                rows = cursor.fetchmany(_CHUNK)
            shops = ShopRows.joined(parts) if parts else ShopRows.of([])
            concat = "string_agg(CAST(l.shop_id AS TEXT), ',')" \
                if self.engine.dialect.name == "postgresql" else "group_concat(l.shop_id)"
            links = []
            for table, (columns, key_of) in _LINKS.items():
                # One row per brand-and-level, service or language, its shops concatenated.
                cursor.execute(f"SELECT {columns}, {concat} FROM {table} l GROUP BY {columns}")
                for *values, members in cursor.fetchall():
                    links.append((key_of(*values),
                                  np.fromstring(members, dtype=np.int64, sep=",")))
            return Read(mark, shops, links, np.empty(0, dtype=np.int64), _catalog(cursor))

    def read_changes(self, since: Mark) -> Read:
        """The shops stamped after the mark `since` with their links, by id; the shops
        deleted since; the catalog."""
        dialect = self.engine.dialect.name
        with self._reading() as (mark, cursor):
            if self.feed.restored(since, mark):
                return Read(mark, ShopRows.of([]), [], np.empty(0, dtype=np.int64), Catalog(),
                            restored=True)
            where, args = self.feed.since("search_seq", since)
            cursor.execute(f"{_SHOPS} WHERE {where} ORDER BY search_seq", args)
            shops = ShopRows.of(cursor.fetchall())
            cursor.execute(f"SELECT shop_id FROM search_removed_shops WHERE {where}", args)
            removed = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
            links: list[tuple[list[tuple], np.ndarray]] = []
            if len(shops.ids):
                # The three link tables in one round trip, the ids bound once for each.
                cursor.execute(_CHANGED_LINKS.format(*(id_in(dialect, f"{t}.shop_id")
                                                       for t in ("b", "s", "l", "t"))),
                               (id_bind(dialect, shops.ids),) * 4)
                for kind, shop_id, key, level in cursor.fetchall():
                    if kind == 3:
                        keys = _takeback_keys(level, key)
                    else:
                        keys = _brand_keys(key, level) if kind == 0 else [
                            ("service", key) if kind == 1 else ("language", level)]
                    links.append((keys, np.array([shop_id], dtype=np.int64)))
            return Read(mark, shops, links, removed, _catalog(cursor))

    def behind(self, mark: Mark, session_connection=None) -> bool:
        """Whether a change was committed after `mark`, asked on `session_connection`
        (the connection a request's session holds in a transaction) or on one of ours."""
        if session_connection is not None:
            cursor = session_connection.cursor()
            try:
                return self.feed.behind(cursor, mark, fresh=False)
            finally:
                cursor.close()
        with self._cursor() as cursor:
            return self.feed.behind(cursor, mark, fresh=True)

    def start(self) -> Mark:
        """A mark before every change (with the current epoch)."""
        with self._cursor() as cursor:
            epoch = self.feed.mark(cursor)[1]
        return ("1:1:", epoch) if self.engine.dialect.name == "postgresql" else (-1, epoch)

    def pending(self, mark: Mark) -> int:
        """How many shops (or, on SQLite, changes) were stamped after `mark`."""
        with self._cursor() as cursor:
            return self.feed.pending(cursor, mark)

    def close(self) -> None:
        """Close the idle connections (before a fork: a child must open its own)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    @contextmanager
    def _reading(self) -> Iterator[tuple[Mark, Any]]:
        """One read transaction seeing one state of the database in every statement
        (REPEATABLE READ on PostgreSQL; any SQLite transaction does): the mark as of that
        state and a cursor."""
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" \
            if self.engine.dialect.name == "postgresql" else "BEGIN"
        with self._cursor() as cursor:
            cursor.execute(begin)
            try:
                yield self.feed.mark(cursor), cursor
            finally:
                cursor.execute("ROLLBACK")

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor on one of our connections. An idle connection the server has closed
        meanwhile (a restart, say) fails on first use: it is replaced once, at once."""
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is not None and not _alive(connection):
            with suppress(Exception):
                connection.close()
            connection = None
        if connection is None:
            connection = self._connect()
        try:
            cursor = connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
        except BaseException:
            with suppress(Exception):
                connection.close()
            raise
        with self._lock:
            if len(self._idle) < self.IDLE_KEPT:
                self._idle.append(connection)
                return
        connection.close()

    def _connect(self):
        """A connection made by the engine (its settings and connect hooks applied),
        taken out of the pool for good, in autocommit mode."""
        pooled = self.engine.raw_connection()
        driver = pooled.driver_connection
        pooled.detach()
        if self.engine.dialect.name == "postgresql":
            driver.rollback()  # the pool's ping may have begun a transaction
            driver.autocommit = True
        return driver


def _alive(connection) -> bool:
    """Whether an idle connection still answers (one cheap round trip on PostgreSQL,
    skipped while it is younger than a few seconds)."""
    if not hasattr(connection, "pgconn"):
        return True  # SQLite: a file, nothing to lose
    used = getattr(connection, "_portal_used", 0.0)
    now = time.monotonic()
    if now - used < _FRESH_SECONDS:
        connection._portal_used = now
        return True
    try:
        connection.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means: open another
        return False
    connection._portal_used = now
    return True


#: An idle connection used this recently is taken as alive without asking.
_FRESH_SECONDS = 5.0

#: A shop is in the search while it and its organisation are active (the rule of
#: `shops.queries.listed_shop`); changing an organisation's `active` restamps its shops.
_SHOPS = ("SELECT s.id, s.lat, s.lon, s.active AND o.active, s.opening_hours, s.timezone, "
          "s.country, s.hv_level, s.hv_valid_until, s.search_seq FROM shops s "
          "JOIN organizations o ON o.id = s.organization_id")


def _catalog(cursor) -> Catalog:
    """Brand, service and model names in one round trip."""
    cursor.execute("SELECT 0, slug, id, NULL FROM brands UNION ALL "
                   "SELECT 1, slug, id, NULL FROM services UNION ALL "
                   "SELECT 2, m.slug, m.brand_id, b.slug FROM vehicle_models m "
                   "JOIN brands b ON b.id = m.brand_id")
    names: tuple[dict, dict, dict] = ({}, {}, {})
    for kind, slug, key, brand in cursor.fetchall():
        names[kind][slug] = key if kind < 2 else (key, brand)
    return Catalog(*names)


#: (kind, shop, brand or service id, level or language) of some shops' links; for a
#: take-back point (kind 3): (3, shop, damaged 0 or 1, chemistries).
_CHANGED_LINKS = (
    "SELECT 0, b.shop_id, b.brand_id, b.level FROM shop_brands b WHERE {} UNION ALL "
    "SELECT 1, s.shop_id, s.service_id, NULL FROM shop_services s WHERE {} UNION ALL "
    "SELECT 2, l.shop_id, 0, l.language FROM shop_languages l WHERE {} UNION ALL "
    "SELECT 3, t.shop_id, CASE WHEN t.damaged THEN 1 ELSE 0 END, t.chemistries "
    "FROM shop_takeback t WHERE {}")


def _brand_keys(brand_id: int, level: str) -> list[tuple]:
    """A level implies every lower one, so "at least partner" is one bit."""
    lower = AUTH_LEVELS[:AUTH_LEVELS.index(level) + 1]
    # ("any_brand", level): the same for some brand, one bit (the coverage counts ask it).
    return [("brand", brand_id, at) for at in lower] + [("any_brand", at) for at in lower]


def _takeback_keys(chemistries: str | None, damaged) -> list[tuple]:
    """A battery take-back point's keys: `("takes", code)` per chemistry it takes, and
    `("takes_damaged",)` when it takes damaged or defective packs."""
    keys = [("takes", code) for code in (chemistries or "").split(";") if code]
    return keys + [("takes_damaged",)] if damaged else keys


#: Link table -> (its key columns, the trait keys one row sets).
_LINKS = {
    "shop_brands": ("l.brand_id, l.level", _brand_keys),
    "shop_services": ("l.service_id", lambda service_id: [("service", service_id)]),
    "shop_languages": ("l.language", lambda code: [("language", code)]),
    "shop_takeback": ("l.chemistries, CASE WHEN l.damaged THEN 1 ELSE 0 END", _takeback_keys),
}


def _ordinal(value) -> int:
    if value is None:
        return -1
    if isinstance(value, str):  # SQLite hands dates back as text
        value = date.fromisoformat(value)
    return value.toordinal()
