"""The shop search: exact geodesic radius, every filter, two orders, and its page.

How it stays exact and fast (see `geo.geodesy` for the bounds it relies on, and
`search.columns` for the arrays it reads):

1. A grid over Earth-centred coordinates returns the shops in cells within a cube around
   the centre that holds the whole radius (no special case at the 180th meridian or the
   poles: the cube is in space, not in latitude and longitude).
2. Each candidate's chord (straight-line distance through the Earth) is computed for all
   of them at once, and the filters are tested on arrays. A chord above the radius is out
   (the geodesic is never shorter); a chord below `chord_surely_within_km` is in. Only
   shops in the thin ring between the two (0.13 m wide at 50 km) get an exact geodesic
   for the count.
3. For the page, rows go in chord order and get their exact geodesic where chords cannot
   settle the order (see `_settle_order`), so a page of 20 costs a few geodesics,
   whatever the density.

Stock is asked of the database for the candidates left after every other filter, in
one query (`search.stock`), so it is as current as the request's own transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import NamedTuple

import numpy as np
from sqlmodel import Session

from ..geo.geodesy import (
    chord_surely_within_km,
    distance_from_chord_km,
    ecef_km,
    geodesic_km,
    geodesic_upper_bound_km,
)
from ..shops import hours
from ..shops.models import AUTH_LEVELS, HV_RANK
from .columns import View
from .index import ShopIndex
from .stock import holding

#: How far a chord computed from the index's arrays may be from the one computed here
#: from the same coordinates (NumPy and `math` may round the last bits differently).
CHORD_SLACK_KM = 1e-6


@dataclass
class SearchQuery:
    """A search with every name resolved to ids (see `shops.queries.resolve_search`)."""

    lat: float
    lon: float
    radius_km: float
    limit: int = 20
    offset: int = 0
    sort: str = "distance"
    brand_id: int | None = None
    brand_slug: str | None = None  # the same brand, as `match_reasons` names it
    min_level: str | None = None
    service_ids: list[int] = field(default_factory=list)
    part_chains: list[list[int]] = field(default_factory=list)
    part_chain_numbers: list[list[str]] = field(default_factory=list)  # the same, by number
    language: str | None = None
    hv_min: str | None = None
    open_now: bool | None = None
    takes_chemistry: str | None = None  # battery take-back points taking this chemistry
    takes_damaged: bool = False  # ... and damaged or defective packs
    #: Also say whether an authorised or partner shop (of the brand, else of any brand)
    #: is among the matches (`SearchPage.served`, for the coverage counts).
    want_served: bool = False
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


class Hit(NamedTuple):
    shop_id: int
    distance_km: float
    open_now: bool
    next_change: datetime | None
    stamp: int  # the shop's stamp as the index saw it (see `ShopIndex.documents`)


@dataclass
class SearchPage:
    total: int
    hits: list[Hit]
    served: bool | None = None  # with `want_served`: see `_served`


def search_shops(session: Session, query: SearchQuery, view: View | None = None, *,
                 index: ShopIndex | None = None) -> SearchPage:
    """Exactly the active shops within `radius_km` (geodesic) passing every filter, the
    total and the requested page, ordered by distance then id, or by the `best` rank.
    `view`: the index as the caller read it (its catalog resolved the query's names);
    by default the app's index as of now."""
    if index is None:
        from . import app_index

        index = app_index()
    snap = view if view is not None else index.current(session)
    centre = ecef_km(query.lat, query.lon)
    chord_max = query.radius_km + CHORD_SLACK_KM
    pos = snap.near(centre, chord_max)
    c2 = _chords_squared(snap, pos, centre)
    inside = c2 <= chord_max * chord_max
    pos, c2 = pos[inside], c2[inside]
    keep = _filter_mask(snap, pos, query)
    pos, c2 = pos[keep], c2[keep]
    is_open = None
    if query.open_now is not None or query.sort == "best":
        is_open = index.open_states(snap, pos, query.now)
        if query.open_now is not None:
            keep = is_open == query.open_now
            pos, c2, is_open = pos[keep], c2[keep], is_open[keep]
    if query.part_chains and len(pos):  # each part, or one of its successors
        c = snap.columns
        keep = holding(session, c.ids[pos], c.lat[pos], c.lon[pos], query.part_chains)
        pos, c2 = pos[keep], c2[keep]
        is_open = None if is_open is None else is_open[keep]
    total = _count(snap, pos, c2, query)
    wanted = query.offset + query.limit
    ranked = _ranked(snap, pos, c2, _ranks(snap, pos, is_open, query), query, wanted) \
        if total > query.offset else []
    served = None
    if query.want_served:
        served = bool(total) and _served(snap, pos, c2, query,
                                         [row for *_key, row in ranked])
    return SearchPage(total, _hits(snap, ranked[query.offset:wanted], query.now), served)


def _served(snap: View, pos: np.ndarray, c2: np.ndarray, query: SearchQuery,
            ranked: list[int]) -> bool:
    """Whether a match (every filter passed) is authorised for the query's brand or its
    partner, or without a brand, for any brand, and lies within the radius. The rows
    already `ranked` for the page (inside the radius, nearest or best first) are asked
    first, one by one: in a served place one of them usually answers, and only an
    unserved search reads every match (one bit of one word per row)."""
    if query.brand_id is not None and query.min_level in ("partner", "authorized"):
        return True  # every match is one
    key = ("brand", query.brand_id, "partner") if query.brand_id is not None \
        else ("any_brand", "partner")
    found = snap.trait_bits.bits.get(key)
    if found is None:  # no shop anywhere is one
        return False
    word, bit = found
    column, flag = snap.columns.traits[:, word], 1 << bit
    if any(int(column[row]) & flag for row in ranked):
        return True
    partner = (column[pos] & np.uint64(flag)) != 0
    if not partner.any():
        return False
    pos, c2 = pos[partner], c2[partner]
    sure = max(0.0, chord_surely_within_km(query.radius_km) - CHORD_SLACK_KM)
    if (c2 <= sure * sure).any():
        return True
    return _count(snap, pos, c2, query) > 0


def _chords_squared(snap: View, pos: np.ndarray, centre) -> np.ndarray:
    c = snap.columns
    dx, dy, dz = c.x[pos] - centre[0], c.y[pos] - centre[1], c.z[pos] - centre[2]
    return dx * dx + dy * dy + dz * dz


def _filter_mask(snap: View, pos: np.ndarray, query: SearchQuery) -> np.ndarray:
    """Brand (with a minimum level), every service, a language (`pt` takes `pt-BR`), a
    valid minimum HV level and what a battery take-back point takes, tested on the
    index's arrays."""
    keep = np.ones(len(pos), dtype=bool)
    bits = snap.trait_bits
    if query.brand_id is not None:
        keep &= _has_any(snap, pos, bits.mask([("brand", query.brand_id,
                                                query.min_level or AUTH_LEVELS[0])]))
    if query.service_ids:
        for service_id in query.service_ids:
            keep &= _has_any(snap, pos, bits.mask([("service", service_id)]))
    if query.language:
        prefix = query.language + "-"
        keep &= _has_any(snap, pos, bits.mask(
            key for key in bits.bits if key[0] == "language"
            and (key[1] == query.language or key[1].startswith(prefix))))
    if query.hv_min:
        keep &= _hv_valid(snap, pos, query.now.date(), query.hv_min)
    if query.takes_chemistry or query.takes_damaged:
        # A take-back point offers the service and has stated what it takes.
        recycling = snap.catalog.services.get("battery-recycling")
        keep &= _has_any(snap, pos, bits.mask([("service", recycling)]))
        if query.takes_chemistry:
            keep &= _has_any(snap, pos, bits.mask([("takes", query.takes_chemistry)]))
        if query.takes_damaged:
            keep &= _has_any(snap, pos, bits.mask([("takes_damaged",)]))
    return keep


def _hv_valid(snap: View, pos: np.ndarray, today: date, minimum: str) -> np.ndarray:
    """`hv_is_valid` over the index's arrays."""
    return (snap.columns.hv[pos] >= HV_RANK[minimum]) \
        & (snap.columns.hv_until[pos] >= today.toordinal())


def _has_any(snap: View, pos: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is None:  # no shop anywhere has it
        return np.zeros(len(pos), dtype=bool)
    word = np.flatnonzero(mask)
    return ((snap.columns.traits[pos][:, word] & mask[word]) != 0).any(axis=1)


def _count(snap: View, pos: np.ndarray, c2: np.ndarray, query: SearchQuery) -> int:
    """Shops in the radius: sure ones by chord, the thin ring by exact geodesic."""
    sure = max(0.0, chord_surely_within_km(query.radius_km) - CHORD_SLACK_KM)
    ring = c2 > sure * sure
    return int(len(pos) - ring.sum()) + sum(
        1 for lat, lon in zip(snap.columns.lat[pos[ring]].tolist(),
                              snap.columns.lon[pos[ring]].tolist(), strict=True)
        if geodesic_km(query.lat, query.lon, lat, lon) <= query.radius_km)


def _ranks(snap: View, pos: np.ndarray, is_open: np.ndarray | None,
           query: SearchQuery) -> np.ndarray:
    """The `best` rank, most significant first: the authorisation level for the brand
    (0-3), open now (0-1), a valid HV level (0-3). Zero for every row in distance order."""
    if query.sort != "best":
        return np.zeros(len(pos), dtype=np.int64)
    rank = np.zeros(len(pos), dtype=np.int64)
    if query.brand_id is not None:
        for level in AUTH_LEVELS:
            rank += 100 * _has_any(snap, pos, snap.trait_bits.mask(
                [("brand", query.brand_id, level)]))
    rank += 10 * is_open
    rank += np.where(_hv_valid(snap, pos, query.now.date(), "1S"), snap.columns.hv[pos], 0)
    return rank


def _ranked(snap: View, pos: np.ndarray, c2: np.ndarray, rank: np.ndarray,
            query: SearchQuery, wanted: int) -> list[tuple]:
    """The first `wanted` matches in exact order: (negated rank, distance, id, row).

    Only the first few rows in (rank, chord) order are settled at first: every row left
    out comes after them, in a lower rank or with a chord at least as long. When they
    cannot settle the page (see `_settle_order`), four times as many are taken."""
    ids = snap.columns.ids[pos]
    full = np.lexsort((ids, c2, -rank)) if query.sort == "best" else None
    batch = 2 * wanted + 8
    while True:
        complete = batch >= len(pos)
        if full is not None:
            order = full[:batch]
        else:
            chosen = np.arange(len(pos)) if complete else np.argpartition(c2, batch - 1)[:batch]
            order = chosen[np.lexsort((ids[chosen], c2[chosen]))]
        chords = np.sqrt(np.maximum(c2[order], 0.0)).tolist()
        rows = list(zip(ids[order].tolist(), chords, rank[order].tolist(),
                        snap.columns.lat[pos[order]].tolist(),
                        snap.columns.lon[pos[order]].tolist(), pos[order].tolist(),
                        strict=True))
        settled = _settle_order(query, rows, wanted,
                                reach_km=math.inf if complete else chords[-1],
                                complete=complete)
        if settled is not None:
            return settled
        batch *= 4


def _settle_order(query: SearchQuery, rows: list, wanted: int, *, reach_km: float,
                  complete: bool) -> list[tuple] | None:
    """Exact order of the first `wanted` of `rows` ((id, chord, rank, lat, lon, row) in rank
    and chord order, chords known to within CHORD_SLACK_KM), or None when they cannot
    prove it (the caller takes more rows).

    `reach_km`: every row left out has a lower rank or a chord at least this long. A
    row's distance lies within [chord - slack, upper bound of (chord + slack)]; rows of
    one rank whose ranges overlap form a cluster. A cluster of one surely inside the
    radius takes its distance from those bounds when they are tight; every other member
    gets its geodesic, which also decides whether it is inside."""
    slack = CHORD_SLACK_KM
    reach = reach_km - slack
    sure = chord_surely_within_km(query.radius_km) - slack
    out: list[tuple] = []
    cluster: list[tuple] = []
    cluster_end = -1.0

    def close_cluster() -> None:
        members = []
        for shop_id, chord, rank, lat, lon, row in cluster:
            distance = distance_from_chord_km(chord, slack) \
                if len(cluster) == 1 and chord <= sure else None
            if distance is None:
                distance = geodesic_km(query.lat, query.lon, lat, lon)
                if distance > query.radius_km:
                    continue
            members.append((-rank, distance, shop_id, row))
        out.extend(sorted(members))
        cluster.clear()

    for row in rows:
        chord, rank = row[1], row[2]
        if cluster and (rank != cluster[-1][2] or chord - slack > cluster_end):
            close_cluster()
            if len(out) >= wanted:
                return out[:wanted]
        if not cluster:
            cluster_end = -1.0
        cluster.append(row)
        cluster_end = max(cluster_end, geodesic_upper_bound_km(chord + slack))
    if complete or (cluster and cluster_end < reach):
        # Every row left out lies beyond the reach, so beyond this cluster too.
        if cluster:
            close_cluster()
        if complete or len(out) >= wanted:
            return out[:wanted]
    elif not cluster and len(out) >= wanted:
        return out[:wanted]
    return None


def _hits(snap: View, page: list[tuple], now: datetime) -> list[Hit]:
    """The page's rows with their opening state, asked once per distinct pattern."""
    rows = [row for _r, _d, _id, row in page]
    numbers = snap.columns.pattern[rows].tolist()
    stamps = snap.columns.stamp[rows].tolist()
    states: dict[int, tuple[bool, datetime | None]] = {-1: (False, None)}
    hits = []
    for (_rank, distance, shop_id, _row), number, stamp in zip(page, numbers, stamps,
                                                               strict=True):
        state = states.get(number)
        if state is None:
            state = states[number] = hours.state_at(*snap.patterns[number], now)
        hits.append(Hit(shop_id, distance, *state, stamp))
    return hits


def hv_is_valid(level: str, valid_until: date | None, today: date,
                minimum: str = "1S") -> bool:
    """A high-voltage qualification counts when it is at least `minimum` and not expired."""
    return (valid_until is not None and valid_until >= today
            and HV_RANK.get(level, -1) >= HV_RANK[minimum])
