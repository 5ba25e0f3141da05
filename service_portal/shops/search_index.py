"""What the shop search filters on, for every active shop, held in memory as column arrays.

Each process keeps one `ShopIndex` per database. A search reads it instead of asking the
database for every candidate: a grid over Earth-centred coordinates finds the shops near
a point, and brands, services, languages, HV level and opening hours are tested on
arrays; brand, model and service names resolve from its catalog, and the shops holding a
part in stock are kept per part searched (`shops.stock_holders`), so a search asks the
database for nothing but the page's documents and stock.

The database stays the only truth. Triggers (migrations 0005 to 0007) stamp every
change that matters to the search with a number from one counter, `search_changes.seq`,
whose row lock orders those writers as they commit; deleted shops leave their id and
stamp in `search_removed_shops`. Before each search the index compares the counter with
the one it has seen and, if it moved, reads only the shops stamped since, so several app
hosts stay exact without talking to each other, and a change shows in the next search
anywhere.
A refresh builds a new snapshot and swaps it in: a search in flight keeps its own.
"""

from __future__ import annotations

import threading
import weakref
from datetime import datetime

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from . import hours
from .documents import stamped_documents
from .search_index_load import SEQ, refreshed, stock_holders
from .search_snapshot import Snapshot
from .stock_holders import StockHolders

#: Shop documents a process keeps (about 2 kB each).
DOCUMENTS_KEPT = 20_000
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
        self._holders = StockHolders()
        #: Shop documents by id, with their stamp.
        self._documents: dict[int, tuple[int, dict]] = {}

    def current(self, session: Session | None = None) -> Snapshot:
        """A snapshot holding every change committed before this call. The counter is
        read on `session`'s connection when it holds one already (on PostgreSQL another
        checkout costs three round trips), else on a pooled connection of its own (on
        SQLite microseconds, and no transaction to open)."""
        engine = self._engine()
        if session is not None and session.in_transaction():
            seq = session.connection().exec_driver_sql(SEQ).scalar_one()
        else:
            connection = engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(SEQ)
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
                refresh = refreshed(engine, snapshot, self._holders.parts())
                self._holders.advance(-1 if snapshot is None else snapshot.seq,
                                      refresh.snapshot.seq, refresh.read, refresh.changed,
                                      refresh.holding)
                snapshot = self._snapshot = refresh.snapshot
            return snapshot

    def holders(self, part_id: int) -> np.ndarray:
        """Sorted ids of the shops holding `part_id` in stock (qty > 0), as of the last
        snapshot or later (see `shops.stock_holders`)."""
        return self._holders.of(part_id, lambda p: stock_holders(self._engine(), p))

    def documents(self, session: Session, snapshot: Snapshot,
                  ids: list[int]) -> dict[int, dict]:
        """Shop documents without `parts` (see `documents.stamped_documents`), kept while
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
            if len(self._documents) + len(missing) > DOCUMENTS_KEPT:
                self._documents.clear()
            for shop_id, kept in stamped_documents(session, missing).items():
                self._documents[shop_id] = kept
                out[shop_id] = kept[1]
        return out

    def open_states(self, snapshot: Snapshot, positions: np.ndarray,
                    moment: datetime) -> np.ndarray:
        """Whether each shop at `positions` is open at `moment` (unknown hours: closed),
        asked once per distinct pattern (`hours.state_at` remembers states)."""
        patterns = snapshot.pattern[positions]
        table = np.zeros(len(snapshot.patterns) + 1, dtype=bool)  # [-1] stays closed
        for p in np.unique(patterns[patterns >= 0]).tolist():
            table[p] = hours.state_at(*snapshot.patterns[p], moment)[0]
        return table[patterns]
