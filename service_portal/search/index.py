"""Each process's copy of what the search filters on, kept exact by the change feed.

One `ShopIndex` per app (`app.extensions`, made by `search.init_app`), whatever session,
reader or writer, a request uses. Before each search it asks the database whether
anything changed since its mark (`changes.is_behind`: one query) and, if so, reads the
changed shops and their links by id and appends them as new rows (`columns`), so a
refresh costs in proportion to the change, not to the number of shops. Only one thread
refreshes at a time; searches never wait for it, they read the view they took.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from ..shops import hours
from ..shops.documents import stamped_documents
from . import changes
from .check import differences
from .columns import ALIVE, LOOSE_MAX, Catalog, Columns, Grid, Traits, View

log = logging.getLogger(__name__)

#: Shop documents a process keeps (about 2 kB each).
DOCUMENTS_KEPT = 20_000


@dataclass
class Health:
    """What the index records of its own work, for `report`."""

    refreshed_at: float | None = None  # wall clock of the last refresh
    checked_at: float | None = None  # wall clock of the last "anything changed?" answer
    last_refresh_ms: float | None = None
    refreshes: int = 0
    compactions: int = 0
    last_check: dict = field(default_factory=dict)  # the last reconciliation's report
    loaded_by: int | None = None  # the process that read every shop (before a fork: the master)


class ShopIndex:
    """The index of the database behind `engine`, loaded on first use."""

    def __init__(self, engine: Engine) -> None:
        self._reader = changes.Reader(engine)
        self._lock = threading.Lock()
        self._view: View | None = None
        #: Row of each shop id in the current view, -1 for none (only refreshes read it).
        self._position = np.full(0, -1, dtype=np.int64)
        #: Shop documents by id, with their stamp.
        self._documents: dict[int, tuple[int, dict]] = {}
        self.health = Health()

    # -- reading -------------------------------------------------------------------

    def current(self, session: Session | None = None) -> View:
        """A view holding every change committed before this call. The question goes
        over `session`'s connection when it holds one already, else over one of the
        index's own (`changes.Reader`)."""
        view = self._view
        if view is not None:
            connection = None
            if session is not None and session.in_transaction():
                connection = session.connection().connection
            if not self._reader.behind(view.mark, connection):
                self.health.checked_at = time.time()
                return view
        with self._lock:
            if self._view is not view:  # another thread refreshed meanwhile
                return self._view
            self._refresh()
            return self._view

    def documents(self, session: Session, wanted: list[tuple[int, int]]) -> dict[int, dict]:
        """Shop documents without `parts` (see `documents.stamped_documents`) of the
        (shop id, stamp) pairs `wanted`, kept while their stamp is the one the search
        saw: only new or changed shops are read. A shop the session cannot see yet
        (committed after its transaction began) is left out."""
        out, missing = {}, []
        for shop_id, stamp in wanted:
            kept = self._documents.get(shop_id)
            if kept is not None and kept[0] == stamp:
                out[shop_id] = kept[1]
            else:
                missing.append(shop_id)
        if missing:
            if len(self._documents) + len(missing) > DOCUMENTS_KEPT:
                self._documents.clear()
            for shop_id, kept in stamped_documents(session, missing).items():
                self._documents[shop_id] = kept
                out[shop_id] = kept[1]
        return out

    def open_states(self, view: View, rows: np.ndarray, moment: datetime) -> np.ndarray:
        """Whether each shop at `rows` is open at `moment` (unknown hours: closed),
        asked once per distinct pattern (`hours.state_at` remembers states)."""
        patterns = view.columns.pattern[rows]
        table = np.zeros(len(view.patterns) + 1, dtype=bool)  # [-1] stays closed
        for p in np.unique(patterns[patterns >= 0]).tolist():
            table[p] = hours.state_at(*view.patterns[p], moment)[0]
        return table[patterns]

    def report(self) -> dict:
        """The index's health for operators: its age (since it was last known current),
        the changes committed since that it has not read, its size and its last check."""
        health, view, now = self.health, self._view, time.time()
        if view is None:
            return {"loaded": False}
        live = view.live()
        return {
            "loaded": True, "generation": view.generation, "shops": int(len(live)),
            "rows": view.size, "capacity": view.columns.capacity,
            "unsorted_rows": view.size - view.grid.rows,
            "age_seconds": round(now - (health.checked_at or now), 3),
            "refreshed_seconds_ago": round(now - (health.refreshed_at or now), 3),
            "pending_changes": self._reader.pending(view.mark),
            "last_refresh_ms": round(health.last_refresh_ms or 0.0, 3),
            "refreshes": health.refreshes, "compactions": health.compactions,
            "last_check": health.last_check,
            "process": os.getpid(), "loaded_by_process": health.loaded_by,
        }

    # -- keeping it current ----------------------------------------------------------

    def _refresh(self) -> None:
        started = time.perf_counter()
        old = self._view
        read = None if old is None else self._reader.read_changes(old.mark)
        if read is None or read.restored:
            self._load(self._reader.read_all())
            if old is not None:  # asked for by an operator, or a restored database
                self._checked(old)
        else:
            self._apply(read)
        health = self.health
        health.last_refresh_ms = (time.perf_counter() - started) * 1000
        health.refreshed_at = health.checked_at = time.time()
        health.refreshes += 1

    def built_by_changes(self) -> View:
        """A view built the way changes reach a running process (every shop read by id
        as changed since the beginning of the feed, onto an empty index), to compare
        with a full load (`service-portal search-check`). Leaves this index unloaded:
        use an index of its own for it."""
        with self._lock:
            start = self._reader.start()
            empty = changes.Read(start, changes.ShopRows.of([]), [],
                                 np.empty(0, dtype=np.int64), Catalog())
            self._load(empty)
            self._apply(self._reader.read_changes(start))
            view, self._view = self._view, None
            return view

    def _checked(self, old: View) -> dict:
        report = differences(old, self._view)
        report["checked_at"] = time.time()
        self.health.last_check = report
        if report["differences"] or report["catalog_differs"]:
            log.warning("search index differed from the database and was reloaded: %s",
                        report)
        return report

    def _load(self, read: changes.Read) -> None:
        """The first load: every active shop, one row each."""
        self.health.loaded_by = os.getpid()
        self._patterns: list = []
        self._pattern_of: dict = {}
        self._trait_bits = Traits().with_keys(k for keys, _ids in read.links for k in keys)
        shops = read.shops
        active = np.flatnonzero(shops.active)
        columns = Columns(len(active) + _room(len(active)), _words(self._trait_bits))
        top = int(shops.ids.max(initial=0))
        self._position = np.full(top + 1 + _room(top), -1, dtype=np.int64)
        self._write(columns, shops, active, generation=0)
        self._set_traits(columns, read.links)
        self._publish(read, columns, Grid.of(columns), generation=0)

    def _apply(self, read: changes.Read) -> None:
        """Changed shops as new rows, their old rows (and removed shops') dead from the
        next generation; the arrays compacted first when they lack room."""
        view = self._view
        generation = view.generation + 1
        shops = read.shops
        ids = np.concatenate((shops.ids, read.removed))
        self._trait_bits = self._trait_bits.with_keys(k for keys, _i in read.links for k in keys)
        active = np.flatnonzero(shops.active)
        columns = view.columns
        if (columns.size + len(active) > columns.capacity
                or view.size - view.grid.rows + len(active) > LOOSE_MAX
                or _words(self._trait_bits) > columns.traits.shape[1]):
            columns = self._compacted(view, ids, len(active))
            grid = None
        else:
            grid = view.grid
            self._retire(columns, ids, generation)
        self._write(columns, shops, active, generation)
        self._set_traits(columns, read.links)
        self._publish(read, columns, grid or Grid.of(columns), generation)

    def _compacted(self, view: View, leaving: np.ndarray, arriving: int) -> Columns:
        """The live rows but those of the shops `leaving`, in new arrays with room for
        `arriving` rows and more (the old arrays stay as they are for older views)."""
        self.health.compactions += 1
        live = np.flatnonzero(view.columns.dead[:view.size] == ALIVE)
        leaving = leaving[leaving < len(self._position)]
        live = np.setdiff1d(live, self._position[leaving], assume_unique=False)
        columns = view.columns.compacted(live, arriving + _room(len(live) + arriving),
                                         _words(self._trait_bits))
        self._position[:] = -1
        self._position[columns.ids[:columns.size]] = np.arange(columns.size)
        return columns

    def _retire(self, columns: Columns, ids: np.ndarray, generation: int) -> None:
        """The rows of the shops `ids` count until `generation`; they have no row now."""
        ids = ids[ids < len(self._position)]
        rows = self._position[ids]
        rows = rows[rows >= 0]
        columns.dead[rows] = np.minimum(columns.dead[rows], generation)
        self._position[ids] = -1

    def _write(self, columns: Columns, shops: changes.ShopRows, chosen: np.ndarray,
               generation: int) -> None:
        """Append the shops at `chosen` (indexes into `shops`) and note their rows."""
        if not len(chosen):
            return
        ids = shops.ids[chosen]
        top = int(ids.max())
        if top >= len(self._position):
            grown = np.full(top + 1 + _room(top), -1, dtype=np.int64)
            grown[:len(self._position)] = self._position
            self._position = grown
        rows = columns.append({
            "ids": ids, "stamp": shops.stamp[chosen], "lat": shops.lat[chosen],
            "lon": shops.lon[chosen], "hv": shops.hv[chosen],
            "hv_until": shops.hv_until[chosen],
            "pattern": np.array([self._pattern(shops.hours[i]) for i in chosen.tolist()],
                                dtype=np.int32)})
        self._position[ids] = rows

    def _pattern(self, key: tuple[str, str, str | None] | None) -> int:
        if key is None:
            return -1
        number = self._pattern_of.get(key)
        if number is None:
            number = self._pattern_of[key] = len(self._patterns)
            self._patterns.append(key)
        return number

    def _set_traits(self, columns: Columns, links) -> None:
        """Set the bits of each (keys, shop ids) on those shops' current rows (only rows
        written by this refresh have a position among the shops linked)."""
        for keys, ids in links:
            ids = ids[ids < len(self._position)]
            rows = self._position[ids]
            rows = rows[rows >= 0]
            for key in keys:
                word, bit = self._trait_bits.bits[key]
                columns.traits[rows, word] |= np.uint64(1 << bit)

    def _publish(self, read: changes.Read, columns: Columns, grid: Grid,
                 generation: int) -> None:
        self._view = View(generation=generation, mark=read.mark, size=columns.size,
                          columns=columns,
                          grid=grid, trait_bits=self._trait_bits, patterns=self._patterns,
                          catalog=read.catalog)


def _room(count: int) -> int:
    """Rows of headroom for `count` rows: changes append until it is used up."""
    return max(1024, count // 8)


def _words(trait_bits: Traits) -> int:
    """Trait words per row, with room for new keys (a key beyond them compacts)."""
    return trait_bits.words + (1 if len(trait_bits.bits) % 64 > 48 else 0)
