"""Which of a search's candidates hold the parts asked for: one query over them.

The stock is read in the request's own transaction, after every other filter has cut the
candidates down (a few hundred within 50 km of a city), and migration 0008's partial
index on `stock (part_id, shop_id) WHERE qty > 0` answers it without touching rows
that are out of stock. Nothing about stock is kept in memory, so a sale or a restock
costs the search nothing and is in the very next search.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sqlmodel import Session

from ..db import id_bind, id_in


def holding(session: Session, shop_ids: np.ndarray, chains: list[list[int]]) -> np.ndarray:
    """Which of `shop_ids` hold, for every chain, its part or one of its successors in
    stock (qty > 0)."""
    connection = session.connection()
    dialect = connection.dialect.name
    parts = sorted({part_id for chain in chains for part_id in chain})
    rows = connection.exec_driver_sql(_holders(dialect), (
        id_bind(dialect, parts), id_bind(dialect, np.unique(shop_ids)))).all()
    keep = np.ones(len(shop_ids), dtype=bool)
    for chain in chains:
        members = set(chain)
        holders = np.array(sorted({shop for part, shop in rows if part in members}),
                           dtype=np.int64)
        keep &= np.isin(shop_ids, holders, assume_unique=False)
    return keep


@lru_cache(maxsize=4)
def _holders(dialect: str) -> str:
    return (f"SELECT part_id, shop_id FROM stock WHERE {id_in(dialect, 'part_id')} "
            f"AND {id_in(dialect, 'shop_id')} AND qty > 0")
