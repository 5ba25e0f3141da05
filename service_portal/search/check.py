"""Comparing an index with the database: what a fresh load holds that the index does not.

The change feed keeps every process's index exact as long as writes go through the
triggers. A restore, a bulk fix with triggers disabled or a bug could leave an index
behind without anyone noticing; `differences` names what differs, and the index loads
afresh when an operator asks (`service-portal search-check --repair`).
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from .columns import View


def differences(old: View, new: View, *, limit: int = 20) -> dict:
    """How `old` differs from `new` (a fresh load): shops only one of them counts, shops
    whose place, hours, HV qualification, brands, services or languages differ (their
    ids, at most `limit` of each), and whether the catalog differs."""
    old_rows, new_rows = old.live(), new.live()
    old_ids, new_ids = old.columns.ids[old_rows], new.columns.ids[new_rows]
    missing = np.setdiff1d(new_ids, old_ids)
    extra = np.setdiff1d(old_ids, new_ids)
    common, at_old, at_new = np.intersect1d(old_ids, new_ids, return_indices=True)
    a, b = old_rows[at_old], new_rows[at_new]
    oc, nc = old.columns, new.columns
    differ = np.zeros(len(common), dtype=bool)
    for name in ("lat", "lon", "hv", "hv_until"):
        differ |= getattr(oc, name)[a] != getattr(nc, name)[b]
    differ |= _pattern_keys(old, a) != _pattern_keys(new, b)
    for key in set(old.trait_bits.bits) | set(new.trait_bits.bits):
        differ |= _has(old, a, key) != _has(new, b, key)
    changed = common[differ]
    return {"shops": len(new_ids), "missing": _ids(missing, limit),
            "extra": _ids(extra, limit), "changed": _ids(changed, limit),
            "differences": int(len(missing) + len(extra) + len(changed)),
            "catalog_differs": old.catalog != new.catalog}


def _ids(ids: np.ndarray, limit: int) -> list[int]:
    return sorted(ids.tolist())[:limit]


def _pattern_keys(view: View, rows: np.ndarray) -> np.ndarray:
    """Each row's hours pattern as text (numbers differ between loads)."""
    texts = np.array(["\x1f".join(map(str, p)) for p in view.patterns] + [""], dtype=object)
    return texts[view.columns.pattern[rows]]


def _has(view: View, rows: np.ndarray, key: tuple) -> np.ndarray:
    found = view.trait_bits.bits.get(key)
    if found is None:
        return np.zeros(len(rows), dtype=bool)
    word, bit = found
    return (view.columns.traits[rows, word] >> np.uint64(bit)) & np.uint64(1) == 1


def stamps_ahead(session) -> int:
    """Shops and removals stamped ahead of the feed (restored from another database, or
    written with the triggers off and a hand-made stamp): no process would ever see them
    as old, so each would read them again before every search."""
    if session.get_bind().dialect.name == "postgresql":
        ahead = ("search_seq >= CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) "
                 "AS bigint)")
    else:
        ahead = "search_seq > (SELECT seq FROM search_changes)"
    return sum(session.execute(text(f"SELECT count(*) FROM {table} WHERE {ahead}")).scalar_one()
               for table in ("shops", "search_removed_shops"))


def request_reload(session) -> int:
    """Bring stamps ahead of the feed back into it and raise the epoch, so every
    process loads its index afresh before its next search. Returns the new epoch."""
    if session.get_bind().dialect.name == "postgresql":
        now = "CAST(CAST(pg_current_xact_id() AS text) AS bigint)"
        ahead = ("search_seq >= CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) "
                 "AS bigint)")
        session.execute(text(f"UPDATE search_removed_shops SET search_seq = {now} "
                             f"WHERE {ahead}"))
        session.execute(text(f"UPDATE shops SET search_seq = 0 WHERE {ahead}"))  # restamped
    else:
        session.execute(text(
            "UPDATE search_changes SET seq = max(seq, (SELECT coalesce(max(search_seq), 0) "
            "FROM shops), (SELECT coalesce(max(search_seq), 0) FROM search_removed_shops))"))
    session.execute(text("UPDATE search_changes SET epoch = epoch + 1"))
    return session.execute(text("SELECT epoch FROM search_changes")).scalar_one()
