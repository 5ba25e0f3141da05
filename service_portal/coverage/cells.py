"""The map cells searches are counted in: a quarter of a degree of latitude and longitude.

Why a quarter degree: a cell is 27.8 km from south to north everywhere and 27.8 km x
cos(latitude) from west to east (25.6 km in Riyadh, 26.2 in Mexico City, 27.8 in
Singapore, 17.9 in Frankfurt): about the 25 km the coverage question is asked at ("is
there an authorised shop within a drive?"), and about 400-770 km² at the hub cities, a
district of a city or several villages, too coarse to find a person by. The edges are
fixed, so counts from any number of processes and hosts add up cell by cell, and the
numbering is the stock's map cells' (`search.stock.cell_of`), one grid for the portal. A
geohash of precision 4 (39 x 19.5 km at the equator) was the alternative: its cells are
twice as long as they are high, and a plain integer is cheaper to compute per search than
a base-32 string. Cells do narrow towards the poles, where no owner searches for a shop.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

#: Cells per degree (as `search.stock.CELLS_PER_DEGREE`).
CELLS_PER_DEGREE = 4
#: Cell numbers: row (from the south pole) times this, plus column (from 180° west).
ROW = 2000
_ROWS = 180 * CELLS_PER_DEGREE
_COLUMNS = 360 * CELLS_PER_DEGREE


def cell_of(lat: float, lon: float) -> int:
    """The cell holding the point (plain floats: a search counts one point)."""
    row = min(int(math.floor((lat + 90.0) * CELLS_PER_DEGREE)), _ROWS - 1)
    column = min(int(math.floor((lon + 180.0) * CELLS_PER_DEGREE)), _COLUMNS - 1)
    return row * ROW + column


def cell_bounds(cell: int) -> tuple[float, float, float, float]:
    """(south, west, north, east) of a cell, degrees."""
    row, column = divmod(int(cell), ROW)
    south, west = row / CELLS_PER_DEGREE - 90.0, column / CELLS_PER_DEGREE - 180.0
    return south, west, south + 1 / CELLS_PER_DEGREE, west + 1 / CELLS_PER_DEGREE


def cell_centre(cell: int) -> tuple[float, float]:
    """(lat, lon) of a cell's centre."""
    south, west, north, east = cell_bounds(cell)
    return (south + north) / 2, (west + east) / 2


class Places:
    """The gazetteer's places as arrays, to name a cell."""

    def __init__(self, places) -> None:
        self.places = places
        self.lat = np.array([p.lat for p in places], dtype=np.float64)
        self.lon = np.array([p.lon for p in places], dtype=np.float64)
        self.population = np.array([p.population for p in places], dtype=np.int64)

    def naming(self, cell: int):
        """The most populous place inside the cell (a city is named by the city, not by
        whichever suburb lies nearest the cell's centre), else the place nearest its
        centre (on a sphere: naming needs no more), else None."""
        if not self.places:
            return None
        south, west, north, east = cell_bounds(cell)
        inside = np.flatnonzero((self.lat >= south) & (self.lat < north)
                                & (self.lon >= west) & (self.lon < east))
        if len(inside):
            return self.places[int(inside[np.argmax(self.population[inside])])]
        lat, lon = cell_centre(cell)
        phi, lam = math.radians(lat), math.radians(lon)
        lats, lons = np.radians(self.lat), np.radians(self.lon)
        h = (np.sin((lats - phi) / 2) ** 2
             + math.cos(phi) * np.cos(lats) * np.sin((lons - lam) / 2) ** 2)
        return self.places[int(np.argmin(h))]


@lru_cache(maxsize=1)
def _places() -> Places:
    from ..geo.gazetteer import get_gazetteer

    return Places(get_gazetteer().places)


@lru_cache(maxsize=65_536)
def cell_place(cell: int):
    """The place a cell is named by (its name and country; see `Places.naming`), or None."""
    return _places().naming(cell)
