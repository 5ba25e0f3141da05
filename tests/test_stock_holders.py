"""The per-part sets of shops holding stock: patched, dropped or kept as the index moves
from one counter value to the next, and bounded in memory."""

from __future__ import annotations

import numpy as np

from service_portal.shops import stock_holders
from service_portal.shops.stock_holders import StockHolders, holds


def ids(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def loader(sets: dict[int, tuple[int, np.ndarray]], calls: list[int]):
    def load(part_id: int):
        calls.append(part_id)
        return sets[part_id]
    return load


def test_a_part_is_read_once_then_kept():
    calls: list[int] = []
    holders = StockHolders()
    load = loader({7: (0, ids(1, 5, 9))}, calls)
    assert holders.of(7, load).tolist() == [1, 5, 9]
    assert holders.of(7, load).tolist() == [1, 5, 9]
    assert calls == [7]


def test_a_refresh_patches_sets_it_covers_drops_older_ones_and_keeps_newer_ones():
    holders = StockHolders()
    holders.advance(-1, 10, [], ids(), {})
    holders.of(1, lambda p: (10, ids(2, 4, 6)))  # exact at 10
    holders.of(2, lambda p: (12, ids(4, 8)))  # read while the refresh below ran
    holders.of(3, lambda p: (11, ids(4)))  # its stock not read by the refresh: dropped
    # Shops 4 and 5 changed between 10 and 12: 4 sold out of part 1, 5 now holds it.
    holders.advance(10, 11, [1, 2], ids(4, 5), {1: ids(5)})
    calls: list[int] = []
    fail = loader({}, calls)
    assert holders.of(1, fail).tolist() == [2, 5, 6]
    assert holders.of(2, fail).tolist() == [4, 8]  # newer than 11: as read
    assert calls == []
    assert holders.of(3, lambda p: (11, ids(9))).tolist() == [9]
    # A set read before the last refresh would have missed its changes: used, not kept.
    holders.of(4, lambda p: (10, ids(3)))
    assert holders.of(4, lambda p: (11, ids(3, 4))).tolist() == [3, 4]
    holders.advance(11, 13, [1, 2, 3, 4], ids(8), {})
    assert holders.of(2, fail).tolist() == [4]
    holders.advance(14, 15, [1], ids(), {})  # a gap: every set older than 14 goes
    assert holders.parts() == []


def test_sets_beyond_the_budget_go_least_recently_used_first(monkeypatch):
    monkeypatch.setattr(stock_holders, "HOLDERS_KEPT", 5)
    holders = StockHolders()
    holders.of(1, lambda p: (0, ids(1, 2)))
    holders.of(2, lambda p: (0, ids(3, 4)))
    holders.of(1, lambda p: (0, ids()))  # 1 used last
    holders.of(3, lambda p: (0, ids(5, 6)))
    assert holders.parts() == [1, 3]
    holders.of(4, lambda p: (0, ids(*range(6))))  # larger than the budget: not kept
    assert holders.parts() == [1, 3]


def test_membership():
    assert holds(ids(2, 4, 6), ids(1, 2, 6, 7)).tolist() == [False, True, True, False]
    assert holds(ids(), ids(1)).tolist() == [False]
