"""Which shops hold a part in stock (qty > 0): one sorted array of shop ids per part, kept
by each process for the parts searched lately, so a `part` search asks the database
nothing per candidate.

Each set is exact as of a value of the change counter (see `shops.search_index`):
migration 0007 stamps a shop whenever one of its stock rows starts or stops counting as
in stock, so the shops stamped between two counter values are the only ones whose
membership can differ. A refresh of the index from counter A to B reads, for the parts
kept, the stock of the shops stamped in (A, B] and hands it to `advance`:

- a set exact at a value in [A, B] is patched to B (those shops get their state as of B;
  no other shop changed after A);
- a set exact at a value below A missed changes and is dropped (read again when needed);
- a set exact beyond B (read while the refresh ran) is kept as it is.

A set may be newer than the snapshot a search reads, never older: the search sees stock
at least as recent as the shops, as when stock was read by query.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

#: Shop ids kept across all parts (8 bytes each): at most 32 MB per process.
HOLDERS_KEPT = 4_000_000


class StockHolders:
    """Per part: (counter value it is exact at, sorted shop ids), least recently used
    dropped first beyond HOLDERS_KEPT ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: OrderedDict[int, tuple[int, np.ndarray]] = OrderedDict()
        self._kept = 0
        self._seq = -1  # the counter value of the last refresh applied

    def parts(self) -> list[int]:
        with self._lock:
            return list(self._sets)

    def of(self, part_id: int, load: Callable[[int], tuple[int, np.ndarray]]) -> np.ndarray:
        """The shops holding `part_id`, read by `load(part_id)` -> (counter, sorted ids)
        when not kept."""
        with self._lock:
            kept = self._sets.get(part_id)
            if kept is not None:
                self._sets.move_to_end(part_id)
                return kept[1]
        seq, ids = load(part_id)
        with self._lock:
            # Kept only if no refresh has passed it: one that did would have patched it.
            if seq >= self._seq and part_id not in self._sets and len(ids) <= HOLDERS_KEPT:
                self._sets[part_id] = (seq, ids)
                self._kept += len(ids)
                while self._kept > HOLDERS_KEPT:
                    _part, (_seq, dropped) = self._sets.popitem(last=False)
                    self._kept -= len(dropped)
        return ids

    def advance(self, old_seq: int, new_seq: int, read: Sequence[int], changed: np.ndarray,
                holding: dict[int, np.ndarray]) -> None:
        """Apply the refresh from `old_seq` to `new_seq`: `changed` holds the ids of the
        shops stamped in between, `holding` the sorted ids of those holding each part of
        `read` (the parts whose stock the refresh read) as of `new_seq`."""
        read_parts = set(read)
        with self._lock:
            self._seq = new_seq
            for part_id, (seq, ids) in list(self._sets.items()):
                if seq > new_seq:
                    continue
                if seq < old_seq or part_id not in read_parts:
                    del self._sets[part_id]
                    self._kept -= len(ids)
                    continue
                patched = _patched(ids, changed, holding.get(part_id))
                self._sets[part_id] = (new_seq, patched)
                self._kept += len(patched) - len(ids)


def _patched(ids: np.ndarray, changed: np.ndarray, holding: np.ndarray | None) -> np.ndarray:
    """`ids` with every shop of `changed` taken out, and those of `holding` put in."""
    if len(changed) and len(ids):
        at = np.searchsorted(ids, changed)
        found = at < len(ids)
        found[found] = ids[at[found]] == changed[found]
        if found.any():
            ids = np.delete(ids, at[found])
    if holding is not None and len(holding):
        ids = np.union1d(ids, holding)
    return ids


def holds(holders: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of `ids` are in the sorted array `holders`."""
    if not len(holders):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(holders, ids), len(holders) - 1)
    return holders[at] == ids
