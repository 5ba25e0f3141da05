"""Counting owners' searches without slowing or failing one.

Each app (each process) keeps its own `Tally` (`app.extensions`). A search appends one
tuple (day, brand, service, cell, served) to a deque: `deque.append` is atomic in
CPython, so no lock is shared by searches, and nothing else happens on the search's path
but the cell's arithmetic. When BATCH searches are waiting or INTERVAL seconds have
passed, the search that notices asks for a flush after its response has gone out
(`call_on_close`): the flush pops what is waiting (`popleft`, atomic too), sums it per
(day, brand, service, cell) and adds the sums to `coverage_daily` in one UPSERT, whose
additions make the counts of several processes and hosts add up. A database error drops
that batch (logged, counted in `dropped`): counts are statistics, and a search never
waits for them or fails because of them. The deque is bounded, so a process that cannot
flush for a long time forgets the oldest counts rather than growing.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import Counter, deque
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from ..db import writer
from .cells import cell_of, cell_place
from .models import CoverageDay

log = logging.getLogger(__name__)

#: Searches waiting that make the next search ask for a flush.
BATCH = 500
#: Seconds after which the next search asks for a flush however few are waiting.
INTERVAL = 30.0
#: Searches a flush takes at most (7 values per distinct key stay under SQLite's 32,766
#: bound parameters in one statement).
FLUSH_MAX = 4000
#: Searches kept waiting at most; older ones are forgotten when flushes keep failing.
KEPT_MAX = 200_000
#: Seconds a flush asked for may take to start before another search asks again.
_ASK_AGAIN = 5.0


class Tally:
    """One process's counts waiting to be written, for the database behind `engine`."""

    def __init__(self, engine: Engine, *, batch: int = BATCH, interval: float = INTERVAL) -> None:
        self.engine = engine
        self.batch, self.interval = batch, interval
        self._waiting: deque = deque(maxlen=KEPT_MAX)
        self._flushing = threading.Lock()
        self._due = time.monotonic() + interval
        self._asked = 0.0
        self.written = self.dropped = 0

    def add(self, *, brand: str | None, service: str | None, lat: float, lon: float,
            served: bool, moment: datetime | None = None) -> bool:
        """Count one search; True when this search should ask for a flush."""
        day = (moment or datetime.now(UTC)).date()
        self._waiting.append((day, brand or "", service or "", cell_of(lat, lon), served))
        now = time.monotonic()
        if (len(self._waiting) >= self.batch or now >= self._due) \
                and now - self._asked >= _ASK_AGAIN:
            self._asked = now  # a race lets two searches ask: the flush lock sorts it out
            return True
        return False

    def waiting(self) -> int:
        return len(self._waiting)

    def flush(self) -> int:
        """Write what is waiting (up to FLUSH_MAX searches) in one statement; returns how
        many searches were written. Never raises; another flush running: returns 0."""
        if not self._flushing.acquire(blocking=False):
            return 0
        try:
            self._due = time.monotonic() + self.interval
            sums: Counter = Counter()
            served: Counter = Counter()
            taken = 0
            while taken < FLUSH_MAX:
                try:
                    day, brand, service, cell, found = self._waiting.popleft()
                except IndexError:
                    break
                taken += 1
                sums[day, brand, service, cell] += 1
                served[day, brand, service, cell] += found
            if not taken:
                return 0
            try:
                rows = [{"day": day, "brand": brand, "service": service, "cell": cell,
                         "country": _country(cell), "searches": n,
                         "with_authorised_or_partner": served[day, brand, service, cell]}
                        for (day, brand, service, cell), n in sums.items()]
                with writer(self.engine).begin() as connection:
                    connection.execute(_upsert(self.engine.dialect.name, rows))
            except Exception as exc:  # noqa: BLE001 - counting must never fail a search
                self.dropped += taken
                log.warning("coverage counts of %s searches dropped: %s", taken,
                            str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                return 0
            self.written += taken
            return taken
        finally:
            self._flushing.release()

    def flush_all(self) -> int:
        """Flush until nothing waits or a flush writes nothing (at exit, in tests)."""
        total = 0
        while self._waiting:
            written = self.flush()
            if not written:
                break
            total += written
        return total


def _country(cell: int) -> str:
    """The country of the place nearest the cell's centre ("" when unknown)."""
    place = cell_place(cell)
    return place.country if place is not None else ""


def _upsert(dialect: str, rows: list[dict]):
    """One INSERT of every row, adding to the counts of rows already there."""
    table = CoverageDay.__table__
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table).values(rows)
    return insert.on_conflict_do_update(
        index_elements=["day", "brand", "service", "cell"],
        set_={"searches": table.c.searches + insert.excluded.searches,
              "with_authorised_or_partner": table.c.with_authorised_or_partner
              + insert.excluded.with_authorised_or_partner})


def flush_at_exit(tally: Tally) -> None:
    """Write what waits when the process ends (a weak reference: a test's apps may go)."""
    ref = weakref.ref(tally)

    def flush() -> None:
        kept = ref()
        if kept is not None and kept.waiting():
            kept.flush_all()
    atexit.register(flush)
