"""What the shop search filters on, for every active shop, held in memory as column arrays.

Each process keeps one `ShopIndex` per database. A search reads it instead of asking the
database for every candidate: a grid over Earth-centred coordinates finds the shops near
a point, and brands, services, languages, HV level and opening hours are tested on
arrays, so a search with any filter costs one small query (stock, for `part`) beyond the
page's documents.

The database stays the only truth. Triggers (migration 0005) stamp every change that
matters to the search with a number from one counter, `search_changes.seq`, whose row
lock orders those writers as they commit; deleted shops leave their id and stamp in
`search_removed_shops`. Before each search the index compares the counter with the one it
has seen and, if it moved, reads only the shops stamped since, so several app hosts stay
exact without talking to each other, and a change shows in the next search anywhere.
A refresh builds a new snapshot and swaps it in: a search in flight keeps its own.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from ..geo.geodesy import A_KM, E2
from . import hours
from .models import AUTH_LEVELS, HV_LEVELS

#: Grid cell edge in km (Earth-centred cube cells): a 50 km search reads 4-5 cells a side.
CELL_KM = 25.0
_OFFSET_KM = A_KM + CELL_KM  # shifts every coordinate to a positive cell number
_SIDE = int(2 * _OFFSET_KM / CELL_KM) + 2  # cells per axis
#: Shops added or moved since the grid was sorted are checked one by one until they are
#: this many (or 1/64 of all); then the grid is sorted again.
_LOOSE_MIN = 256
#: Shop documents a process keeps (about 2 kB each).
DOCUMENTS_KEPT = 20_000


def ecef_arrays(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Earth-centred coordinates (n x 3, km) of points on the WGS-84 surface (the same
    formula as `geo.geodesy.ecef_km`)."""
    phi, lam = np.radians(lat), np.radians(lon)
    sin_phi, cos_phi = np.sin(phi), np.cos(phi)
    n = A_KM / np.sqrt(1 - E2 * sin_phi * sin_phi)
    return np.column_stack((n * cos_phi * np.cos(lam), n * cos_phi * np.sin(lam),
                            n * (1 - E2) * sin_phi))


def _cells(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    i, j, k = (np.floor((c + _OFFSET_KM) / CELL_KM).astype(np.int64) for c in (x, y, z))
    return (i * _SIDE + j) * _SIDE + k


@dataclass(frozen=True)
class Traits:
    """Which bit of the `traits` words stands for what: `("service", id)`,
    `("language", code)`, `("brand", id, level)` where a shop authorised at a level also
    holds every lower one, so "at least partner" is one bit."""

    bits: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def with_keys(self, keys) -> Traits:
        new = [k for k in keys if k not in self.bits]
        if not new:
            return self
        bits = dict(self.bits)
        for key in new:
            n = len(bits)
            bits[key] = (n // 64, n % 64)
        return Traits(bits)

    @property
    def words(self) -> int:
        return max(1, (len(self.bits) + 63) // 64)

    def mask(self, keys) -> np.ndarray | None:
        """The words with the bits of `keys` set, or None if none of them is known."""
        out = np.zeros(self.words, dtype=np.uint64)
        found = False
        for key in keys:
            if key in self.bits:
                word, bit = self.bits[key]
                out[word] |= np.uint64(1 << bit)
                found = True
        return out if found else None


@dataclass(frozen=True)
class Snapshot:
    """The index as of change `seq`. Arrays are by position; positions never move, a shop
    deactivated or removed only stops being `alive`."""

    seq: int
    ids: np.ndarray  # int64
    stamp: np.ndarray  # int64: the shop's `search_seq` when read
    lat: np.ndarray
    lon: np.ndarray
    x: np.ndarray  # Earth-centred coordinates, km (three arrays: gathers are faster)
    y: np.ndarray
    z: np.ndarray
    alive: np.ndarray  # bool
    pattern: np.ndarray  # int32 index into `patterns`, -1 for no hours
    hv: np.ndarray  # int8 index into HV_LEVELS
    hv_until: np.ndarray  # int32 proleptic ordinal, -1 for none
    traits: np.ndarray  # n x words, uint64
    trait_bits: Traits
    patterns: tuple[tuple[str, str, str | None], ...]
    position: np.ndarray  # int32 by shop id, -1 for none
    grid_cells: np.ndarray  # sorted cell numbers of the gridded positions
    grid_positions: np.ndarray  # int32, in that order
    in_grid: np.ndarray  # bool
    loose: np.ndarray  # int32 positions checked one by one

    def near(self, centre: tuple[float, float, float], reach_km: float) -> np.ndarray:
        """Positions of live shops whose grid cell or own point lies in the cube of side
        2 x `reach_km` around `centre` (a superset of those within that chord)."""
        lo = np.floor((np.asarray(centre) - reach_km + _OFFSET_KM) / CELL_KM).astype(np.int64)
        hi = np.floor((np.asarray(centre) + reach_km + _OFFSET_KM) / CELL_KM).astype(np.int64)
        lo, hi = np.maximum(lo, 0), np.minimum(hi, _SIDE - 1)
        ii = np.arange(lo[0], hi[0] + 1)
        jj = np.arange(lo[1], hi[1] + 1)
        column = (ii[:, None] * _SIDE + jj[None, :]).ravel() * _SIDE
        starts = np.searchsorted(self.grid_cells, column + lo[2], side="left")
        ends = np.searchsorted(self.grid_cells, column + hi[2], side="right")
        lengths = ends - starts
        keep = lengths > 0
        starts, lengths = starts[keep], lengths[keep]
        total = int(lengths.sum())
        if total:
            # Concatenated ranges [start, end) without a Python loop.
            shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
            found = self.grid_positions[np.arange(total) + shift]
            found = found[self.in_grid[found]]
        else:
            found = np.empty(0, dtype=np.int32)
        if len(self.loose):
            found = np.concatenate((found, self.loose))
        return found[self.alive[found]]


_INDEXES: weakref.WeakKeyDictionary[Engine, ShopIndex] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def index_for(engine: Engine) -> ShopIndex:
    """This process's index of the database behind `engine` (loaded on first use)."""
    with _INDEXES_LOCK:
        index = _INDEXES.get(engine)
        if index is None:
            index = _INDEXES[engine] = ShopIndex(engine)
        return index


def index_of(session: Session) -> ShopIndex:
    """The index of the database `session` works on."""
    bind = session.get_bind()
    return index_for(getattr(bind, "engine", bind))


def warm_search_index(app) -> None:
    """Load `app`'s index now rather than in its first search."""
    index_for(app.extensions["service_portal.engine"]).current()


class ShopIndex:
    """One process's copy of the search columns of one database, refreshed on demand."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)  # the registry must not keep engines alive
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        #: Opening-hours state per pattern: open?, valid from, valid until (POSIX s).
        self._states: dict[int, tuple[bool, float, float]] = {}
        #: Shop documents by id, with their stamp.
        self._documents: dict[int, tuple[int, dict]] = {}

    def current(self) -> Snapshot:
        """The snapshot holding every change committed before this call. The counter is
        read on a pooled connection of its own (microseconds, no transaction to open)."""
        engine = self._engine()
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(_SEQ)
            seq = cursor.fetchone()[0]
            cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls back
        snapshot = self._snapshot
        if snapshot is not None and snapshot.seq >= seq:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None or snapshot.seq < seq:
                snapshot = self._snapshot = _refreshed(engine, snapshot)
            return snapshot

    def documents(self, session: Session, snapshot: Snapshot,
                  ids: list[int]) -> dict[int, dict]:
        """Shop documents without `parts` (see `queries.stamped_documents`), kept while
        their stamp is the snapshot's: only new or changed shops are read. A shop the
        session cannot see yet (committed after its transaction began) is left out."""
        out, missing = {}, []
        for shop_id in ids:
            kept = self._documents.get(shop_id)
            if kept is not None and kept[0] == snapshot.stamp[snapshot.position[shop_id]]:
                out[shop_id] = kept[1]
            else:
                missing.append(shop_id)
        if missing:
            from .queries import stamped_documents  # queries imports the search, and so this

            if len(self._documents) + len(missing) > DOCUMENTS_KEPT:
                self._documents.clear()
            for shop_id, kept in stamped_documents(session, missing).items():
                self._documents[shop_id] = kept
                out[shop_id] = kept[1]
        return out

    def open_states(self, snapshot: Snapshot, positions: np.ndarray,
                    moment: datetime) -> np.ndarray:
        """Whether each shop at `positions` is open at `moment` (unknown hours: closed).
        Evaluated once per distinct pattern, and remembered until that state's change."""
        patterns = snapshot.pattern[positions]
        known = patterns >= 0
        distinct = np.unique(patterns[known])
        now = moment.timestamp()
        table = np.zeros(len(snapshot.patterns) + 1, dtype=bool)  # [-1] stays closed
        for p in distinct.tolist():
            state = self._states.get(p)
            if state is None or not state[1] <= now < state[2]:
                hours_text, zone, country = snapshot.patterns[p]
                is_open, change = hours.state_at(hours_text, zone, country, moment)
                until = change.timestamp() if change else now + 3600.0
                state = self._states[p] = (is_open, now, until)
            table[p] = state[0]
        return table[patterns]


def _refreshed(engine: Engine, old: Snapshot | None) -> Snapshot:
    """`old` with every shop stamped after it applied (everything, the first time).
    Reads in one transaction, so the counter and the rows agree. Rows come through the
    driver's own cursor: a first load reads a row per shop and per link."""
    seen = -1 if old is None else old.seq
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    mark = "%s" if engine.dialect.name == "postgresql" else "?"
    with engine.connect() as conn:
        # The first statement through SQLAlchemy opens the transaction (BEGIN on SQLite).
        seq = conn.exec_driver_sql(_SEQ).scalar_one()
        cursor = conn.connection.cursor()
        builder = _Builder(old, seq)
        cursor.execute(_CHANGED_SHOPS.format(mark=mark), (seen,))
        builder.shops(cursor.fetchall())
        for kind, statement in _CHANGED_LINKS.items():
            if old is None:  # every link: no join needed
                statement = statement.split(" JOIN ")[0]
            cursor.execute(statement.format(mark=mark), () if old is None else (seen,))
            while rows := cursor.fetchmany(100_000):
                builder.links(kind, rows)
        cursor.execute(_REMOVED.format(mark=mark), (seen,))
        builder.remove([row[0] for row in cursor.fetchall()])
        cursor.close()
        conn.rollback()
    return builder.snapshot()


_SEQ = "SELECT seq FROM search_changes"
_CHANGED_SHOPS = (
    "SELECT id, lat, lon, active, opening_hours, timezone, country, hv_level, "
    "hv_valid_until, search_seq FROM shops WHERE search_seq > {mark}")
_CHANGED_LINKS = {
    kind: (f"SELECT l.shop_id, l.{column}{extra} FROM {table} l JOIN shops s "
           "ON s.id = l.shop_id WHERE s.search_seq > {mark}")
    for kind, table, column, extra in (("brand", "shop_brands", "brand_id", ", l.level"),
                                       ("service", "shop_services", "service_id", ""),
                                       ("language", "shop_languages", "language", ""))}
_REMOVED = "SELECT shop_id FROM search_removed_shops WHERE search_seq > {mark}"


class _Builder:
    """Applies changed rows to a copy of a snapshot's arrays, column by column."""

    def __init__(self, old: Snapshot | None, seq: int) -> None:
        self.old, self.seq = old, seq
        self.n_old = 0 if old is None else len(old.ids)
        self.trait_bits = Traits() if old is None else old.trait_bits
        self.patterns = list(() if old is None else old.patterns)
        self.position = np.full(0, -1, dtype=np.int32) if old is None else old.position.copy()
        self.moved = np.empty(0, dtype=np.int32)

    def _ensure_ids(self, top: int) -> None:
        if top >= len(self.position):
            grown = np.full(top + 1, -1, dtype=np.int32)
            grown[:len(self.position)] = self.position
            self.position = grown

    def shops(self, rows: list) -> None:
        old, n_old = self.old, self.n_old
        columns = list(zip(*rows, strict=True)) if rows else [()] * 10
        ids = np.array(columns[0], dtype=np.int64)
        self.rewritten = set(columns[0])
        active = np.array(columns[3], dtype=bool)
        self._ensure_ids(int(ids.max(initial=0)))
        # Shops not yet in the index get new positions at the end (inactive ones need none).
        fresh = ids[(self.position[ids] < 0) & active]
        n = n_old + len(fresh)
        self.position[fresh] = np.arange(n_old, n, dtype=np.int32)

        def grown(name: str, fill, dtype, width: int | None = None) -> np.ndarray:
            out = np.full((n,) if width is None else (n, width), fill, dtype=dtype)
            if old is not None:
                before = getattr(old, name)
                if width is None:
                    out[:n_old] = before
                else:
                    out[:n_old, :before.shape[1]] = before
            return out

        self.ids = grown("ids", 0, np.int64)
        self.stamp = grown("stamp", -1, np.int64)
        self.lat = grown("lat", 0.0, np.float64)
        self.lon = grown("lon", 0.0, np.float64)
        self.x = grown("x", 0.0, np.float64)
        self.y = grown("y", 0.0, np.float64)
        self.z = grown("z", 0.0, np.float64)
        self.alive = grown("alive", False, bool)
        self.pattern = grown("pattern", -1, np.int32)
        self.hv = grown("hv", 0, np.int8)
        self.hv_until = grown("hv_until", -1, np.int32)
        self.traits = grown("traits", 0, np.uint64, self.trait_bits.words)
        self.in_grid = grown("in_grid", False, bool)
        if not rows:
            return
        pos = self.position[ids]
        indexed = pos >= 0
        pos, ids = pos[indexed], ids[indexed]
        keep = np.flatnonzero(indexed).tolist()

        def column(i: int) -> list:
            return [columns[i][k] for k in keep]

        lat = np.array(column(1), dtype=np.float64)
        lon = np.array(column(2), dtype=np.float64)
        moved = (self.ids[pos] != ids) | (self.lat[pos] != lat) | (self.lon[pos] != lon)
        self.moved = pos[moved]
        self.ids[pos], self.lat[pos], self.lon[pos] = ids, lat, lon
        self.x[self.moved], self.y[self.moved], self.z[self.moved] = \
            ecef_arrays(lat[moved], lon[moved]).T
        self.in_grid[self.moved] = False
        self.alive[pos] = np.array(column(3), dtype=bool)
        pattern_of = {p: i for i, p in enumerate(self.patterns)}
        numbers = []
        for hours_text, zone, country in zip(column(4), column(5), column(6), strict=True):
            if not hours_text:
                numbers.append(-1)
                continue
            key = (hours_text, zone, country)
            number = pattern_of.get(key)
            if number is None:
                number = pattern_of[key] = len(self.patterns)
                self.patterns.append(key)
            numbers.append(number)
        self.pattern[pos] = numbers
        rank = {level: i for i, level in enumerate(HV_LEVELS)}
        self.hv[pos] = [rank.get(level, 0) for level in column(7)]
        self.hv_until[pos] = [_ordinal(value) for value in column(8)]
        self.stamp[pos] = column(9)
        self.traits[pos] = 0

    def links(self, kind: str, rows: list) -> None:
        columns = list(zip(*rows, strict=True))
        pos = self.position[np.array(columns[0], dtype=np.int64)]
        if kind == "brand":
            # A level implies every lower one, so "at least partner" is one bit.
            rank = {level: i for i, level in enumerate(AUTH_LEVELS)}
            keys = [(brand, rank[level]) for brand, level in zip(columns[1], columns[2],
                                                                 strict=True)]
        else:
            keys = columns[1]
        numbers: dict = {}
        inverse = np.array([numbers.setdefault(key, len(numbers)) for key in keys],
                           dtype=np.int64)
        indexed = pos >= 0
        pos, inverse = pos[indexed], inverse[indexed]
        for key, number in numbers.items():
            members = pos[inverse == number]
            if kind == "brand":
                brand, top = key
                for level in AUTH_LEVELS[:top + 1]:
                    self._set(("brand", brand, level), members)
            else:
                self._set((kind, key), members)

    def _set(self, key: tuple, positions: np.ndarray) -> None:
        bits = self.trait_bits = self.trait_bits.with_keys([key])
        if self.traits.shape[1] < bits.words:
            wider = np.zeros((len(self.traits), bits.words), dtype=np.uint64)
            wider[:, :self.traits.shape[1]] = self.traits
            self.traits = wider
        word, bit = bits.bits[key]
        self.traits[positions, word] |= np.uint64(1 << bit)

    def remove(self, shop_ids: list[int]) -> None:
        """Deleted shops; an id in use again since (its row read above) stays."""
        ids = np.array([i for i in shop_ids if i < len(self.position)
                        and i not in self.rewritten], dtype=np.int64)
        pos = self.position[ids]
        self.alive[pos[pos >= 0]] = False

    def snapshot(self) -> Snapshot:
        old, n = self.old, len(self.ids)
        loose = np.union1d(np.empty(0, dtype=np.int32) if old is None else old.loose,
                           self.moved).astype(np.int32)
        if old is None or len(loose) > max(_LOOSE_MIN, n // 64):
            cells = _cells(self.x, self.y, self.z)
            order = np.argsort(cells, kind="stable").astype(np.int32)
            grid_cells, grid_positions = cells[order], order
            self.in_grid[:] = True
            loose = np.empty(0, dtype=np.int32)
        else:
            grid_cells, grid_positions = old.grid_cells, old.grid_positions
        return Snapshot(seq=self.seq, ids=self.ids, stamp=self.stamp, lat=self.lat, lon=self.lon,
                        x=self.x, y=self.y, z=self.z,
                        alive=self.alive, pattern=self.pattern, hv=self.hv,
                        hv_until=self.hv_until, traits=self.traits,
                        trait_bits=self.trait_bits, patterns=tuple(self.patterns),
                        position=self.position, grid_cells=grid_cells,
                        grid_positions=grid_positions, in_grid=self.in_grid, loose=loose)


def _ordinal(value) -> int:
    if value is None:
        return -1
    if isinstance(value, str):  # SQLite hands dates back as text in plain SQL
        value = date.fromisoformat(value)
    return value.toordinal()
