"""Which of a search's candidates hold the parts asked for: one query near them.

The stock is read in the request's own transaction, after every other filter has cut the
candidates down, so a sale or a restock costs the search nothing and is in the very next
search. Each stock row carries its shop's map cell (`stock.cell`, a quarter of a degree
of latitude and longitude, kept by the triggers of migration 0009 when a row is written
or its shop moves), and the partial index on in-stock rows `(part_id, cell, shop_id)`
answers "who holds this part in these cells" by reading only the holders near the
search: the cost follows the holders around the candidates, not the number of shops
bound in a query or the holders of the part world-wide.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sqlmodel import Session

from ..db import id_bind, id_in

#: Cells per degree of latitude and of longitude.
CELLS_PER_DEGREE = 4
#: Cell numbers: row (from the south pole) times this, plus column (from 180° west).
_ROW = 2000


def cell_of(lat, lon):
    """The cell of each point (NumPy arrays or plain floats), as `cell_sql` computes it."""
    row = np.floor((np.asarray(lat) + 90.0) * CELLS_PER_DEGREE).astype(np.int64)
    column = np.floor((np.asarray(lon) + 180.0) * CELLS_PER_DEGREE).astype(np.int64)
    return row * _ROW + column


def cell_sql(dialect: str, lat: str = "lat", lon: str = "lon") -> str:
    """The SQL of `cell_of` over the columns `lat` and `lon` (the same floating-point
    steps, so both agree at a cell's edge; SQLite's CAST truncates, which is the floor
    of the non-negative values here)."""
    floor = "CAST(floor({}) AS integer)" if dialect == "postgresql" else "CAST({} AS integer)"
    return (f"{floor.format(f'({lat} + 90.0) * {CELLS_PER_DEGREE}')} * {_ROW} + "
            f"{floor.format(f'({lon} + 180.0) * {CELLS_PER_DEGREE}')}")


def holding(session: Session, shop_ids: np.ndarray, lat: np.ndarray, lon: np.ndarray,
            chains: list[list[int]]) -> np.ndarray:
    """Which of the shops `shop_ids` (at `lat`, `lon`) hold, for every chain, its part or
    one of its successors in stock (qty > 0)."""
    connection = session.connection()
    dialect = connection.dialect.name
    parts = sorted({part_id for chain in chains for part_id in chain})
    cells = np.unique(cell_of(lat, lon))
    rows = connection.exec_driver_sql(_holders(dialect), (
        id_bind(dialect, parts), id_bind(dialect, cells))).all()
    keep = np.ones(len(shop_ids), dtype=bool)
    for chain in chains:
        members = set(chain)
        holders = np.array([shop for part, shop in rows if part in members], dtype=np.int64)
        keep &= np.isin(shop_ids, holders)
    return keep


@lru_cache(maxsize=4)
def _holders(dialect: str) -> str:
    return (f"SELECT part_id, shop_id FROM stock WHERE {id_in(dialect, 'part_id')} "
            f"AND {id_in(dialect, 'cell')} AND qty > 0")


def stale_cells(session: Session) -> int:
    """Stock rows whose cell is not their shop's (written with the triggers off, or
    restored from elsewhere): such a row is missing from part searches."""
    dialect = session.get_bind().dialect.name
    return session.connection().exec_driver_sql(
        "SELECT count(*) FROM stock s JOIN shops h ON h.id = s.shop_id "
        f"WHERE s.cell IS NULL OR s.cell <> {cell_sql(dialect, 'h.lat', 'h.lon')}").scalar_one()


def repair_cells(session: Session) -> int:
    """Give every stock row its shop's cell; returns how many rows changed."""
    dialect = session.get_bind().dialect.name
    cell = cell_sql(dialect, "h.lat", "h.lon")
    return session.connection().exec_driver_sql(
        f"UPDATE stock SET cell = (SELECT {cell} FROM shops h WHERE h.id = stock.shop_id) "
        f"WHERE cell IS NULL OR cell <> (SELECT {cell} FROM shops h "
        "WHERE h.id = stock.shop_id)").rowcount
