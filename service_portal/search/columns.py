"""The index's data: what the search filters on, one row per version of each shop, in
NumPy column arrays with room to grow, and the read-only views a search takes of them.

Rows are only ever appended. A shop that changes gets a new row; its old row gets a
`dead` generation, the first view in which it no longer counts. A view of generation g
sees the rows below its `size` whose `dead` is above g, so a refresh can publish a new
view while searches in flight keep reading theirs: the only value it writes that an
older view can read is `dead` of a replaced row, which it lowers from ALIVE to the new
generation, still above every older view's generation.

Rows below `gridded` are in a grid over Earth-centred coordinates; rows appended since
are checked one by one until there are LOOSE_MAX of them, or the arrays are full: then
the live rows are copied into new arrays and gridded again (`compacted`), which also
frees the rows of removed and replaced shops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geo.geodesy import A_KM, E2

#: Grid cell edge in km (Earth-centred cube cells): a 50 km search reads 4-5 cells a side.
CELL_KM = 25.0
_OFFSET_KM = A_KM + CELL_KM  # shifts every coordinate to a positive cell number
_SIDE = int(2 * _OFFSET_KM / CELL_KM) + 2  # cells per axis
#: `dead` of a row that is current.
ALIVE = np.iinfo(np.int64).max
#: Rows appended since the grid was sorted that a search checks one by one, at most.
LOOSE_MAX = 4096
BITS_PER_WORD = 64


def ecef_arrays(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Earth-centred coordinates (n x 3, km) of points on the WGS-84 surface (the same
    formula as `geo.geodesy.ecef_km`)."""
    phi, lam = np.radians(lat), np.radians(lon)
    sin_phi, cos_phi = np.sin(phi), np.cos(phi)
    n = A_KM / np.sqrt(1 - E2 * sin_phi * sin_phi)
    return np.column_stack((n * cos_phi * np.cos(lam), n * cos_phi * np.sin(lam),
                            n * (1 - E2) * sin_phi))


def cells_of(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The grid cell number of each point: cells sorted by number run along z first, so
    a column of cells (fixed x and y) is one range of numbers."""
    i, j, k = (np.floor((c + _OFFSET_KM) / CELL_KM).astype(np.int64) for c in (x, y, z))
    return (i * _SIDE + j) * _SIDE + k


@dataclass(frozen=True)
class Traits:
    """Which bit of the `traits` words stands for what: `("service", id)`,
    `("language", code)`, `("brand", id, level)` where a shop authorised at a level also
    holds every lower one, so "at least partner" is one bit, `("any_brand", level)` the
    same for some brand, and a battery take-back point's `("takes", chemistry)` and
    `("takes_damaged",)`."""

    bits: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def with_keys(self, keys) -> Traits:
        new = list(dict.fromkeys(k for k in keys if k not in self.bits))
        if not new:
            return self
        bits = dict(self.bits)
        for key in new:
            n = len(bits)
            bits[key] = (n // BITS_PER_WORD, n % BITS_PER_WORD)
        return Traits(bits)

    @property
    def words(self) -> int:
        return max(1, -(-len(self.bits) // BITS_PER_WORD))

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
class Catalog:
    """The names a search may use, resolved to ids: brand and service slugs, and each
    model's slug to its brand (id, slug). Read whole with every refresh (a few hundred
    rows)."""

    brands: dict[str, int] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)
    models: dict[str, tuple[int, str]] = field(default_factory=dict)


#: Per-row columns: name -> (dtype, value of an unwritten row).
FIELDS = {"ids": (np.int64, 0), "stamp": (np.int64, -1), "lat": (np.float64, 0.0),
          "lon": (np.float64, 0.0), "x": (np.float64, 0.0), "y": (np.float64, 0.0),
          "z": (np.float64, 0.0), "dead": (np.int64, ALIVE), "pattern": (np.int32, -1),
          "hv": (np.int8, 0), "hv_until": (np.int32, -1)}


class Columns:
    """The arrays, `capacity` rows long; `size` rows written. Only the index's refresh
    writes here (see the module docstring for what it may write)."""

    ids: np.ndarray  # int64 shop id
    stamp: np.ndarray  # int64: the shop's `search_seq` when read
    lat: np.ndarray
    lon: np.ndarray
    x: np.ndarray  # Earth-centred coordinates, km (three arrays: gathers are faster)
    y: np.ndarray
    z: np.ndarray
    dead: np.ndarray  # int64 generation from which the row no longer counts; ALIVE
    pattern: np.ndarray  # int32 index into the index's hours patterns, -1 for none
    hv: np.ndarray  # int8 index into HV_LEVELS
    hv_until: np.ndarray  # int32 proleptic ordinal, -1 for none
    traits: np.ndarray  # capacity x words, uint64

    def __init__(self, capacity: int, words: int) -> None:
        for name, (dtype, fill) in FIELDS.items():
            setattr(self, name, np.full(capacity, fill, dtype=dtype))
        self.traits = np.zeros((capacity, words), dtype=np.uint64)
        self.size = 0

    @property
    def capacity(self) -> int:
        return len(self.ids)

    def append(self, rows: dict[str, np.ndarray]) -> np.ndarray:
        """Write `rows` (a column per FIELDS name but `dead`, `x`, `y`, `z`, all of one
        length) after the last row; returns their positions. The caller checked room."""
        count = len(rows["ids"])
        at = np.arange(self.size, self.size + count)
        for name, values in rows.items():
            getattr(self, name)[at] = values
        ecef = ecef_arrays(rows["lat"], rows["lon"])
        self.x[at], self.y[at], self.z[at] = ecef[:, 0], ecef[:, 1], ecef[:, 2]
        self.traits[at] = 0
        self.size += count
        return at

    def compacted(self, live: np.ndarray, room: int, words: int) -> Columns:
        """A copy holding only the rows at `live` (in that order) with room for `room`
        more and `words` trait words per row."""
        out = Columns(len(live) + room, words)
        for name in FIELDS:
            getattr(out, name)[:len(live)] = getattr(self, name)[live]
        out.traits[:len(live), :self.traits.shape[1]] = self.traits[live]
        out.size = len(live)
        return out


@dataclass(frozen=True)
class Grid:
    """Rows [0, `rows`) sorted by grid cell."""

    rows: int
    cells: np.ndarray  # sorted cell numbers
    positions: np.ndarray  # int64 rows, in that order

    @staticmethod
    def of(columns: Columns) -> Grid:
        n = columns.size
        cells = cells_of(columns.x[:n], columns.y[:n], columns.z[:n])
        order = np.argsort(cells, kind="stable")
        return Grid(n, cells[order], order)


@dataclass(frozen=True)
class View:
    """The index as one search reads it: generation `generation`, rows below `size`."""

    generation: int
    mark: object  # the change feed's mark it holds every change up to (`changes`)
    size: int
    columns: Columns
    grid: Grid
    trait_bits: Traits
    patterns: list[tuple[str, str, str | None]]  # append-only, shared by views
    catalog: Catalog

    def near(self, centre: tuple[float, float, float], reach_km: float) -> np.ndarray:
        """Rows of live shops whose grid cell lies in the cube of side 2 x `reach_km`
        around `centre`, and every live row appended since the grid was sorted (a
        superset of those within that chord)."""
        grid = self.grid
        lo = np.floor((np.asarray(centre) - reach_km + _OFFSET_KM) / CELL_KM).astype(np.int64)
        hi = np.floor((np.asarray(centre) + reach_km + _OFFSET_KM) / CELL_KM).astype(np.int64)
        lo, hi = np.maximum(lo, 0), np.minimum(hi, _SIDE - 1)
        ii = np.arange(lo[0], hi[0] + 1)
        jj = np.arange(lo[1], hi[1] + 1)
        column = (ii[:, None] * _SIDE + jj[None, :]).ravel() * _SIDE
        starts = np.searchsorted(grid.cells, column + lo[2], side="left")
        ends = np.searchsorted(grid.cells, column + hi[2], side="right")
        lengths = ends - starts
        keep = lengths > 0
        starts, lengths = starts[keep], lengths[keep]
        total = int(lengths.sum())
        if total:
            # Concatenated ranges [start, end) without a Python loop.
            shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
            found = grid.positions[np.arange(total) + shift]
        else:
            found = np.empty(0, dtype=np.int64)
        if self.size > grid.rows:
            found = np.concatenate((found, np.arange(grid.rows, self.size)))
        return found[self.columns.dead[found] > self.generation]

    def live(self) -> np.ndarray:
        """Every row this view counts."""
        rows = np.arange(self.size)
        return rows[self.columns.dead[:self.size] > self.generation]
