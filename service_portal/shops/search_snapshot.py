"""The search index's data: one snapshot of what the shop search filters on, as column
arrays by position, with a grid over Earth-centred coordinates (see `shops.search_index`
for how snapshots are kept current, `shops.search_index_load` for how they are built).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geo.geodesy import A_KM, E2

#: Grid cell edge in km (Earth-centred cube cells): a 50 km search reads 4-5 cells a side.
CELL_KM = 25.0
_OFFSET_KM = A_KM + CELL_KM  # shifts every coordinate to a positive cell number
_SIDE = int(2 * _OFFSET_KM / CELL_KM) + 2  # cells per axis


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


BITS_PER_WORD = 64


@dataclass(frozen=True)
class Traits:
    """Which bit of the `traits` words stands for what: `("service", id)`,
    `("language", code)`, `("brand", id, level)` where a shop authorised at a level also
    holds every lower one, so "at least partner" is one bit."""

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
    model's slug to its brand (id, slug). Read whole with every snapshot (a few hundred
    rows); migration 0006 makes every change to them move the counter."""

    brands: dict[str, int] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)
    models: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """The index as of change `seq`. Arrays are by position; positions never move, a shop
    deactivated or removed only stops being `alive`."""

    seq: int
    ids: np.ndarray  # int64
    stamp: np.ndarray  # int64: the shop's `search_seq` when read
    lat: np.ndarray
    lon: np.ndarray
    x: np.ndarray  # Earth-centred coordinates, km (three arrays: gathers are faster)
    y: np.ndarray
    z: np.ndarray
    alive: np.ndarray  # bool
    pattern: np.ndarray  # int32 index into `patterns`, -1 for no hours
    hv: np.ndarray  # int8 index into HV_LEVELS
    hv_until: np.ndarray  # int32 proleptic ordinal, -1 for none
    traits: np.ndarray  # n x words, uint64
    trait_bits: Traits
    patterns: tuple[tuple[str, str, str | None], ...]
    position: np.ndarray  # int32 by shop id, -1 for none (dense: ids come from a sequence)
    grid_cells: np.ndarray  # sorted cell numbers of the gridded positions
    grid_positions: np.ndarray  # int32, in that order
    in_grid: np.ndarray  # bool
    loose: np.ndarray  # int32 positions checked one by one
    catalog: Catalog

    def near(self, centre: tuple[float, float, float], reach_km: float) -> np.ndarray:
        """Positions of live shops whose grid cell or own point lies in the cube of side
        2 x `reach_km` around `centre` (a superset of those within that chord)."""
        lo = np.floor((np.asarray(centre) - reach_km + _OFFSET_KM) / CELL_KM).astype(np.int64)
        hi = np.floor((np.asarray(centre) + reach_km + _OFFSET_KM) / CELL_KM).astype(np.int64)
        lo, hi = np.maximum(lo, 0), np.minimum(hi, _SIDE - 1)
        ii = np.arange(lo[0], hi[0] + 1)
        jj = np.arange(lo[1], hi[1] + 1)
        column = (ii[:, None] * _SIDE + jj[None, :]).ravel() * _SIDE
        starts = np.searchsorted(self.grid_cells, column + lo[2], side="left")
        ends = np.searchsorted(self.grid_cells, column + hi[2], side="right")
        lengths = ends - starts
        keep = lengths > 0
        starts, lengths = starts[keep], lengths[keep]
        total = int(lengths.sum())
        if total:
            # Concatenated ranges [start, end) without a Python loop.
            shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
            found = self.grid_positions[np.arange(total) + shift]
            found = found[self.in_grid[found]]
        else:
            found = np.empty(0, dtype=np.int32)
        if len(self.loose):
            found = np.concatenate((found, self.loose))
        return found[self.alive[found]]
