"""Reading the change feed into a new index snapshot (see `shops.search_index`).

A refresh reads, in one transaction: the counter; the shops stamped after the snapshot's
counter (every shop, the first time); their brands, services and languages, one row per
brand-and-level, service or language with its shops' ids concatenated by the database
(so ten million links load without a Python object per link); the shops deleted since;
the catalog's names; and, for the parts whose holders the process keeps, the stock of
the changed shops. It applies them to copies of the snapshot's arrays (none when no shop
changed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Engine

from ..db import driver_mark, id_bind, id_in
from .models import AUTH_LEVELS, HV_RANK
from .search_snapshot import Catalog, Snapshot, Traits, cells_of, ecef_arrays

#: Rows fetched from the driver at a time.
_CHUNK = 50_000
#: Changed shops beyond which a refresh reads no stock and the kept holder sets go.
_PATCH_MAX = 10_000
#: Shops added or moved since the grid was sorted are checked one by one until they are
#: this many (or 1/64 of all); then the grid is sorted again.
_LOOSE_MIN = 256


@dataclass(frozen=True)
class Refresh:
    """A refresh's outcome: the new snapshot; the ids of the shops stamped since the old
    one (deleted ones included); the parts whose stock it read (those asked for, or none
    when more than _PATCH_MAX shops changed); and, per part read, the sorted ids of the
    changed shops holding it in stock (see `shops.stock_holders`)."""

    snapshot: Snapshot
    changed: np.ndarray
    read: tuple[int, ...]
    holding: dict[int, np.ndarray]


def refreshed(engine: Engine, old: Snapshot | None, parts: Sequence[int] = ()) -> Refresh:
    """`old` with every change committed since its counter applied (everything when
    `old` is None), and the stock of the changed shops for `parts`. Rows come through
    the driver's own cursor."""
    seen = -1 if old is None else old.seq
    dialect = engine.dialect.name
    with _reading(engine) as (seq, cursor, mark):
        # The first load reads every link: no join to the shops' stamps needed.
        changed = "" if old is None else (
            f" JOIN shops s ON s.id = l.shop_id WHERE s.search_seq > {mark}")
        changed_args = () if old is None else (seen,)
        cursor.execute(_REMOVED.format(mark=mark), (seen,))
        removed = [row[0] for row in cursor.fetchall()]
        cursor.execute(_SHOPS.format(mark=mark), (seen,))
        rows = cursor.fetchmany(_CHUNK)
        if old is not None and not rows and not removed:
            # No shop changed (a sale that left stock above zero, a catalog edit): the
            # same arrays serve, with the new counter and catalog.
            snapshot = replace(old, seq=seq, catalog=_catalog(cursor))
            stamped = np.empty(0, dtype=np.int64)
        else:
            builder = _Builder(old, seq)
            while rows:
                builder.shops(rows)
                rows = cursor.fetchmany(_CHUNK)
            concat = "string_agg(CAST(l.shop_id AS TEXT), ',')" \
                if dialect == "postgresql" else "group_concat(l.shop_id)"
            for table, (columns, key_of) in _LINKS.items():
                cursor.execute(f"SELECT {columns}, {concat} FROM {table} l{changed} "
                               f"GROUP BY {columns}", changed_args)
                for *values, members in cursor.fetchall():
                    builder.link(key_of(*values), members)
            builder.remove(removed)
            builder.catalog = _catalog(cursor)
            snapshot = builder.snapshot()
            stamped = np.unique(np.array([*builder.rewritten, *removed], dtype=np.int64))
        if len(stamped) > _PATCH_MAX:
            parts = ()  # cheaper to read the sets afresh when next searched
        holding: dict[int, list[int]] = {}
        if parts and len(stamped):
            # From the changed shops to their stock (not from the parts' many holders).
            cursor.execute(
                f"SELECT st.part_id, st.shop_id FROM stock st WHERE "
                f"{id_in(dialect, 'st.shop_id')} AND {id_in(dialect, 'st.part_id')} "
                "AND st.qty > 0", (id_bind(dialect, stamped), id_bind(dialect, parts)))
            for part_id, shop_id in cursor.fetchall():
                holding.setdefault(part_id, []).append(shop_id)
    return Refresh(snapshot, stamped, tuple(parts), {
        part_id: np.unique(np.array(ids, dtype=np.int64)) for part_id, ids in holding.items()})


def stock_holders(engine: Engine, part_id: int) -> tuple[int, np.ndarray]:
    """(counter, sorted ids of the shops holding `part_id` with qty > 0), read in one
    transaction, so the set is exact as of that counter value."""
    with _reading(engine) as (seq, cursor, mark):
        cursor.execute(f"SELECT shop_id FROM stock WHERE part_id = {mark} AND qty > 0 "
                       "ORDER BY shop_id", (part_id,))
        ids = np.array([row[0] for row in cursor.fetchall()], dtype=np.int64)
    return seq, ids


@contextmanager
def _reading(engine: Engine) -> Iterator[tuple[int, Any, str]]:
    """One read transaction seeing one snapshot of the database in every statement
    (REPEATABLE READ on PostgreSQL; any SQLite transaction does): the counter as it sees
    it, a driver cursor, and the driver's parameter mark."""
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as conn:
        # The first statement through SQLAlchemy opens the transaction (BEGIN on SQLite).
        seq = conn.exec_driver_sql(SEQ).scalar_one()
        cursor = conn.connection.cursor()
        try:
            yield seq, cursor, driver_mark(engine.dialect)
        finally:
            cursor.close()
            conn.rollback()


SEQ = "SELECT seq FROM search_changes"
_SHOPS = ("SELECT id, lat, lon, active, opening_hours, timezone, country, hv_level, "
          "hv_valid_until, search_seq FROM shops WHERE search_seq > {mark}")
_REMOVED = "SELECT shop_id FROM search_removed_shops WHERE search_seq > {mark}"


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


class _Builder:
    """Applies changed rows to copies of a snapshot's arrays."""

    #: Per-shop arrays: name -> (dtype, value of a new position).
    ARRAYS = {"ids": (np.int64, 0), "stamp": (np.int64, -1), "lat": (np.float64, 0.0),
              "lon": (np.float64, 0.0), "x": (np.float64, 0.0), "y": (np.float64, 0.0),
              "z": (np.float64, 0.0), "alive": (bool, False), "pattern": (np.int32, -1),
              "hv": (np.int8, 0), "hv_until": (np.int32, -1), "in_grid": (bool, False)}

    def __init__(self, old: Snapshot | None, seq: int) -> None:
        self.old, self.seq = old, seq
        self.arrays = {name: np.full(0, fill, dtype=dtype) if old is None
                       else getattr(old, name).copy()
                       for name, (dtype, fill) in self.ARRAYS.items()}
        self.trait_bits = Traits() if old is None else old.trait_bits
        self.traits = np.zeros((0, 1), dtype=np.uint64) if old is None else old.traits.copy()
        self.patterns = list(() if old is None else old.patterns)
        self.pattern_of = {p: i for i, p in enumerate(self.patterns)}
        self.position = np.full(0, -1, dtype=np.int32) if old is None else old.position.copy()
        self.moved: list[np.ndarray] = []
        self.catalog = Catalog()
        self.rewritten: set[int] = set()

    def _grow(self, count: int) -> None:
        for name, (dtype, fill) in self.ARRAYS.items():
            self.arrays[name] = np.concatenate((self.arrays[name],
                                                np.full(count, fill, dtype=dtype)))
        self.traits = np.concatenate(
            (self.traits, np.zeros((count, self.traits.shape[1]), dtype=np.uint64)))

    def _positions_for(self, ids: np.ndarray) -> np.ndarray:
        top = int(ids.max(initial=0))
        if top >= len(self.position):
            grown = np.full(top + 1, -1, dtype=np.int32)
            grown[:len(self.position)] = self.position
            self.position = grown
        return self.position[ids]

    def shops(self, rows: list) -> None:
        """Rewrite these shops whole (links are added by `words`)."""
        a = self.arrays
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.rewritten.update(ids.tolist())
        active = np.array([bool(r[3]) for r in rows], dtype=bool)
        pos = self._positions_for(ids)
        # Shops not yet in the index get new positions at the end (inactive ones need none).
        fresh = ids[(pos < 0) & active]
        start = len(a["ids"])
        self._grow(len(fresh))
        self.position[fresh] = np.arange(start, start + len(fresh), dtype=np.int32)
        pos = self.position[ids]
        keep = np.flatnonzero(pos >= 0)
        rows = [rows[i] for i in keep.tolist()]
        pos, ids = pos[keep], ids[keep]
        lat = np.array([r[1] for r in rows], dtype=np.float64)
        lon = np.array([r[2] for r in rows], dtype=np.float64)
        moved = (a["ids"][pos] != ids) | (a["lat"][pos] != lat) | (a["lon"][pos] != lon)
        a["ids"][pos], a["lat"][pos], a["lon"][pos] = ids, lat, lon
        a["alive"][pos] = active[keep]
        ecef = ecef_arrays(lat[moved], lon[moved])
        for i, axis in enumerate("xyz"):
            a[axis][pos[moved]] = ecef[:, i]
        a["in_grid"][pos[moved]] = False
        self.moved.append(pos[moved])
        a["pattern"][pos] = [self._pattern(r[4], r[5], r[6]) for r in rows]
        a["hv"][pos] = [HV_RANK.get(r[7], 0) for r in rows]
        a["hv_until"][pos] = [_ordinal(r[8]) for r in rows]
        a["stamp"][pos] = [r[9] for r in rows]
        self.traits[pos] = 0

    def _pattern(self, hours_text: str | None, zone: str, country: str | None) -> int:
        if not hours_text:
            return -1
        key = (hours_text, zone, country)
        number = self.pattern_of.get(key)
        if number is None:
            number = self.pattern_of[key] = len(self.patterns)
            self.patterns.append(key)
        return number

    def link(self, keys: list[tuple], members: str) -> None:
        """Set the bits of `keys` on the shops listed in `members` ("12,57,...")."""
        pos = self._positions_for(np.fromstring(members, dtype=np.int64, sep=","))
        pos = pos[pos >= 0]
        self.trait_bits = self.trait_bits.with_keys(keys)
        words = self.trait_bits.words
        if self.traits.shape[1] < words:
            wider = np.zeros((len(self.traits), words), dtype=np.uint64)
            wider[:, :self.traits.shape[1]] = self.traits
            self.traits = wider
        for key in keys:
            word, bit = self.trait_bits.bits[key]
            self.traits[pos, word] |= np.uint64(1 << bit)

    def remove(self, shop_ids: list[int]) -> None:
        """Deleted shops; an id in use again since (its row read above) stays."""
        ids = np.array([i for i in shop_ids if i < len(self.position)
                        and i not in self.rewritten], dtype=np.int64)
        pos = self.position[ids]
        self.arrays["alive"][pos[pos >= 0]] = False

    def snapshot(self) -> Snapshot:
        a, old = self.arrays, self.old
        loose = None if old is None else np.unique(np.concatenate(
            [old.loose, *self.moved])).astype(np.int32)
        if loose is None or len(loose) > max(_LOOSE_MIN, len(a["ids"]) // 64):
            cells = cells_of(a["x"], a["y"], a["z"])
            order = np.argsort(cells, kind="stable").astype(np.int32)
            grid_cells, grid_positions = cells[order], order
            a["in_grid"][:] = True
            loose = np.empty(0, dtype=np.int32)
        else:
            grid_cells, grid_positions = old.grid_cells, old.grid_positions
        return Snapshot(seq=self.seq, **a, traits=self.traits, trait_bits=self.trait_bits,
                        patterns=tuple(self.patterns), position=self.position,
                        grid_cells=grid_cells, grid_positions=grid_positions, loose=loose,
                        catalog=self.catalog)


def _ordinal(value) -> int:
    if value is None:
        return -1
    if isinstance(value, str):  # SQLite hands dates back as text
        value = date.fromisoformat(value)
    return value.toordinal()
