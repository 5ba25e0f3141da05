"""The shop search: exact geodesic radius, every filter, two orders, and its page.

How it stays exact and fast (see `geo.geodesy` for the bounds it relies on):

1. The spatial index (SQLite R*Tree, PostgreSQL GiST) returns the shops inside latitude/
   longitude boxes that provably hold the whole radius (split at the 180th meridian,
   widened to every longitude near a pole).
2. SQL computes each candidate's chord (straight-line distance in Earth-centred
   coordinates) and applies the filters. A chord above the radius is out (the geodesic is
   never shorter); a chord below `chord_surely_within_km` is in. Only shops in the thin
   ring between the two (0.13 m wide at 50 km) get an exact geodesic for the count.
3. For the page, rows come in chord order and get their exact geodesic one by one until
   the next chord exceeds the distance of the last place on the page: no shop beyond can
   displace one on it. So a page of 20 costs about 21 geodesics, whatever the density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache

from sqlalchemy import TextClause, bindparam, text
from sqlmodel import Session

from ..geo.geodesy import (
    bounding_boxes,
    chord_surely_within_km,
    distance_from_chord_km,
    ecef_km,
    geodesic_km,
    geodesic_upper_bound_km,
)
from . import hours
from .models import AUTH_LEVELS, HV_LEVELS

#: How far a chord computed in SQL may be from the true one: SQLite's R*Tree keeps
#: coordinates as 32-bit floats (within 0.25 m per axis at Earth's radius); PostgreSQL's
#: are exact, and the slack costs it nothing but a few more exact checks.
CHORD_SLACK_KM = 0.001


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
    language: str | None = None
    hv_min: str | None = None
    open_now: bool | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Hit:
    shop_id: int
    distance_km: float
    open_now: bool
    next_change: datetime | None


@dataclass
class SearchPage:
    total: int
    hits: list[Hit]


def search_shops(session: Session, query: SearchQuery) -> SearchPage:
    """Exactly the active shops within `radius_km` (geodesic) passing every filter, the
    total and the requested page, ordered by distance then id, or by the `best` rank."""
    sql = _SearchSQL(session.get_bind().dialect.name, query)
    wanted = query.offset + query.limit
    if sql.unfiltered():
        # Counted without fetching the rows, then only the page's neighbourhood is read.
        total = _count_plain(session, sql, query) if sql.dialect == "sqlite" \
            else _count_in_sql(session, sql, query)
        ranked = _top(session, sql, query, wanted, total) if total > query.offset else []
    else:
        # With filters every candidate costs lookups anyway: fetch those that pass once
        # (one pass over the radius), then apply `open_now`, rank, count and order here.
        rows = _filtered_rows(session, sql, query)
        total = _count_rows(session, sql, query, rows)
        ranked = _settle_order(session, sql, query, rows, wanted, complete=True) \
            if total > query.offset else []
    page = ranked[query.offset:wanted]
    return SearchPage(total, _hits(session, page, query.now))


def _filtered_rows(session: Session, sql: _SearchSQL, query: SearchQuery) -> list[tuple]:
    """(id, c2, rank) of every candidate passing the SQL filters and `open_now`, in
    (rank descending, chord, id) order.

    Opening hours are evaluated once per distinct (hours, zone, country): shops share a
    handful of patterns, so `open_now` stays exact without parsing hours per shop. The
    `best` rank packs, most significant first: the authorisation level for the brand
    (0-3), open now (0-1), a valid HV level (0-3)."""
    level = "0"
    if query.sort == "best" and query.brand_id is not None:
        sql.params["rank_brand"] = query.brand_id
        level = ("COALESCE((SELECT CASE sb.level WHEN 'authorized' THEN 3 WHEN 'partner' "
                 "THEN 2 ELSE 1 END FROM shop_brands sb WHERE sb.shop_id = d.id "
                 "AND sb.brand_id = :rank_brand), 0)")
    hours_columns = "s.opening_hours, s.timezone, s.country" if sql.needs_shop \
        else "NULL, NULL, NULL"
    hours_columns += ", s.hv_level, s.hv_valid_until" if query.sort == "best" else ", NULL, NULL"
    fetched = session.execute(_sql(sql.select(f"d.id, d.c2, {level}, {hours_columns}")),
                              sql.params).all()
    # One lookup per pattern here saves a call per row (about 0.5 ms on 1,000 candidates),
    # even though `hours.state_at` remembers states across requests.
    states: dict[tuple, bool] = {}
    today = query.now.date()
    rows = []
    for shop_id, c2, level_rank, hours_text, zone, country, hv_level, hv_until in fetched:
        is_open = False
        if hours_text:
            key = (hours_text, zone, country)
            if key not in states:
                states[key] = hours.state_at(hours_text, zone, country, query.now)[0]
            is_open = states[key]
        if query.open_now is not None and is_open != query.open_now:
            continue
        rank = 0
        if query.sort == "best":
            if isinstance(hv_until, str):  # SQLite hands dates back as text here
                hv_until = date.fromisoformat(hv_until)
            hv = HV_LEVELS.index(hv_level) if hv_is_valid(hv_level, hv_until, today) else 0
            rank = level_rank * 100 + is_open * 10 + hv
        rows.append((shop_id, c2, rank))
    rows.sort(key=lambda r: (-r[2], r[1], r[0]))
    return rows


class _SearchSQL:
    """The SQL of one search: candidates, chord, filters, built once and reused."""

    def __init__(self, dialect: str, query: SearchQuery) -> None:
        self.dialect = dialect
        self.query = query
        # Components below a nanometre are zeroed: squaring them would underflow
        # PostgreSQL's float arithmetic, which raises instead of rounding to zero.
        x, y, z = (c if abs(c) > 1e-12 else 0.0 for c in ecef_km(query.lat, query.lon))
        chord_max = query.radius_km + CHORD_SLACK_KM
        chord_sure = max(0.0, chord_surely_within_km(query.radius_km) - CHORD_SLACK_KM)
        self.params: dict = {"cx": x, "cy": y, "cz": z, "c2max": chord_max ** 2,
                             "c2sure": chord_sure ** 2}
        self.needs_shop = False
        # `c2reach` never exceeds `c2max` (see `set_reach`), so one term bounds the chord.
        self.where: list[str] = ["d.c2 <= :c2reach"]
        self.set_reach(query.radius_km)
        self._filters()

    def set_reach(self, reach_km: float) -> None:
        """Limit the candidates to those the spatial index finds within `reach_km`."""
        reach = min(reach_km, self.query.radius_km)
        self.params["c2reach"] = (reach + CHORD_SLACK_KM) ** 2
        if self.dialect == "sqlite":
            # The R*Tree indexes Earth-centred coordinates: a cube of side 2r around the
            # centre holds every point within chord r, with no meridian or pole cases.
            for axis in "xyz":
                centre = self.params[f"c{axis}"]
                self.params[f"{axis}lo"] = centre - reach - CHORD_SLACK_KM
                self.params[f"{axis}hi"] = centre + reach + CHORD_SLACK_KM
            self.candidates = (
                "SELECT id, (min_x + max_x) / 2 AS x, (min_y + max_y) / 2 AS y, "
                f"(min_z + max_z) / 2 AS z FROM shops_rtree WHERE {_OUTER_CUBE}")
            return
        parts = []
        for i, (lat_min, lat_max, lon_min, lon_max) in enumerate(
                bounding_boxes(self.query.lat, self.query.lon, reach)):
            self.params.update({f"la{i}": lat_min, f"lb{i}": lat_max,
                                f"lo{i}": lon_min, f"lp{i}": lon_max})
            parts.append(f"SELECT id, ecef_x AS x, ecef_y AS y, ecef_z AS z FROM shops "
                         f"WHERE active AND point(lon, lat) <@ "
                         f"box(point(:lo{i}, :la{i}), point(:lp{i}, :lb{i}))")
        self.candidates = " UNION ".join(parts)

    def _filters(self) -> None:
        q = self.query
        if q.brand_id is not None:
            self.params["brand_id"] = q.brand_id
            levels = AUTH_LEVELS[AUTH_LEVELS.index(q.min_level or "independent"):]
            self.where.append(
                "EXISTS (SELECT 1 FROM shop_brands sb WHERE sb.shop_id = d.id "
                f"AND sb.brand_id = :brand_id AND sb.level IN ({_literals(levels)}))")
        for i, service_id in enumerate(q.service_ids):
            self.params[f"svc{i}"] = service_id
            self.where.append("EXISTS (SELECT 1 FROM shop_services ss WHERE ss.shop_id = d.id "
                              f"AND ss.service_id = :svc{i})")
        for chain in q.part_chains:
            ids = ", ".join(str(int(p)) for p in chain)
            self.where.append("EXISTS (SELECT 1 FROM stock st WHERE st.shop_id = d.id "
                              f"AND st.part_id IN ({ids}) AND st.qty > 0)")
        if q.language:
            self.params.update({"lang": q.language, "lang_prefix": q.language + "-%"})
            self.where.append("EXISTS (SELECT 1 FROM shop_languages sl WHERE sl.shop_id = d.id "
                              "AND (sl.language = :lang OR sl.language LIKE :lang_prefix))")
        if q.hv_min:
            self.needs_shop = True
            self.params["today"] = q.now.date().isoformat()
            levels = HV_LEVELS[HV_LEVELS.index(q.hv_min):]
            self.where.append(f"s.hv_level IN ({_literals(levels)}) "
                              "AND s.hv_valid_until >= :today")
        if q.open_now is not None or q.sort == "best":
            self.needs_shop = True

    def unfiltered(self) -> bool:
        """True when no filter applies: the chord alone decides (on SQLite the R*Tree
        alone can answer)."""
        return len(self.where) == 1 and not self.needs_shop

    def select(self, columns: str, *, extra_where: str = "", order: str = "",
               limit: int | None = None, shop_join: bool | None = None) -> str:
        join = " JOIN shops s ON s.id = d.id" if (shop_join or self.needs_shop) else ""
        where = " AND ".join(self.where + ([extra_where] if extra_where else []))
        sql = (f"WITH cand AS ({self.candidates}), d AS (SELECT id, "
               "(x - :cx) * (x - :cx) + (y - :cy) * (y - :cy) + (z - :cz) * (z - :cz) AS c2 "
               f"FROM cand) SELECT {columns} FROM d{join} WHERE {where}")
        if order:
            sql += f" ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return sql


@lru_cache(maxsize=512)
def _sql(statement: str) -> TextClause:
    """Parsed once: building a TextClause scans the whole statement for parameters."""
    return text(statement)


def _literals(values) -> str:
    return ", ".join(f"'{v}'" for v in values)  # only our own enum constants reach here


def _count_rows(session: Session, sql: _SearchSQL, query: SearchQuery, rows: list) -> int:
    """Rows in the radius: sure ones by chord, the thin ring by exact geodesic."""
    sure = sum(1 for _id, c2, _rank in rows if c2 <= sql.params["c2sure"])
    ring = [shop_id for shop_id, c2, _rank in rows if c2 > sql.params["c2sure"]]
    if not ring:
        return sure
    return sure + _within(query, _coordinates(session, ring).values())


def _count_in_sql(session: Session, sql: _SearchSQL, query: SearchQuery) -> int:
    """The count in SQL (PostgreSQL): sure rows counted there, only the thin ring of
    chords near the radius fetched for its exact geodesic."""
    sure, within_chord = session.execute(_sql(sql.select(
        "count(CASE WHEN d.c2 <= :c2sure THEN 1 END), count(*)")), sql.params).one()
    if sure == within_chord:
        return sure
    ring = session.execute(_sql(sql.select("s.lat, s.lon", extra_where="d.c2 > :c2sure",
                                           shop_join=True)), sql.params).all()
    return sure + _within(query, ring)


def _count_plain(session: Session, sql: _SearchSQL, query: SearchQuery) -> int:
    """The unfiltered count on SQLite, reading as few R*Tree rows as possible.

    A cube inscribed in the sphere of chord `c2sure` holds only shops surely within the
    radius, and the R*Tree counts it without reading a single row. Only the shell between
    that cube and the outer one (six boxes) needs each shop's chord. Boxes are cut on the
    stored lower corners, so every shop falls in exactly one of them."""
    half = max(0.0, math.sqrt(sql.params["c2sure"]) - CHORD_SLACK_KM) / math.sqrt(3)
    params = dict(sql.params)
    for axis in "xyz":
        params[f"i{axis}lo"] = params[f"c{axis}"] - half
        params[f"i{axis}hi"] = params[f"c{axis}"] + half
    inside = {axis: f"min_{axis} >= :i{axis}lo AND min_{axis} <= :i{axis}hi" for axis in "xyz"}
    inner = session.execute(_sql(
        f"SELECT count(*) FROM shops_rtree WHERE {_OUTER_CUBE} AND {inside['x']} "
        f"AND {inside['y']} AND {inside['z']}"), params).scalar_one()
    slabs = ["min_x < :ixlo", "min_x > :ixhi",
             f"{inside['x']} AND min_y < :iylo", f"{inside['x']} AND min_y > :iyhi",
             f"{inside['x']} AND {inside['y']} AND min_z < :izlo",
             f"{inside['x']} AND {inside['y']} AND min_z > :izhi"]
    shell = " UNION ALL ".join(f"SELECT id, {_MID_C2} AS c2 FROM shops_rtree "
                               f"WHERE {_OUTER_CUBE} AND {slab}" for slab in slabs)
    sure, within_chord = session.execute(_sql(
        f"SELECT count(CASE WHEN c2 <= :c2sure THEN 1 END), count(*) FROM ({shell}) "
        "WHERE c2 <= :c2max"), params).one()
    if sure == within_chord:
        return inner + sure
    ring = session.execute(_sql(
        f"SELECT s.lat, s.lon FROM ({shell}) AS sh JOIN shops s ON s.id = sh.id "
        "WHERE sh.c2 > :c2sure AND sh.c2 <= :c2max"), params).all()
    return inner + sure + _within(query, ring)


def _within(query: SearchQuery, points) -> int:
    return sum(1 for lat, lon in points
               if geodesic_km(query.lat, query.lon, lat, lon) <= query.radius_km)


_COORDINATES = text("SELECT id, lat, lon FROM shops WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True))
_HOURS = text("SELECT id, opening_hours, timezone, country FROM shops WHERE id IN :ids") \
    .bindparams(bindparam("ids", expanding=True))
_OUTER_CUBE = ("max_x >= :xlo AND min_x <= :xhi AND max_y >= :ylo AND min_y <= :yhi "
               "AND max_z >= :zlo AND min_z <= :zhi")
_MID_C2 = ("((min_x + max_x) / 2 - :cx) * ((min_x + max_x) / 2 - :cx) + "
           "((min_y + max_y) / 2 - :cy) * ((min_y + max_y) / 2 - :cy) + "
           "((min_z + max_z) / 2 - :cz) * ((min_z + max_z) / 2 - :cz)")


def _top(session: Session, sql: _SearchSQL, query: SearchQuery, wanted: int,
         total: int) -> list[tuple]:
    """The first `wanted` matches in exact order: (negated rank, distance, id) tuples.

    Rows come ordered by (rank, chord). A row whose chord exceeds the upper bound of every
    earlier row of its rank is certainly farther than all of them, so the order only has to
    be settled inside runs of rows whose bounds overlap ("clusters", 0.13 m wide at 50 km):
    those get exact geodesics. The page is first sought in a smaller radius sized from the
    density (`total`), then in twice that, so dense cities do not sort every candidate."""
    # Shops are denser near a city centre than the radius-wide average, so this reach is
    # usually enough; `best` must look at the whole radius (rank beats distance).
    reach = query.radius_km
    if query.sort == "distance" and total > 4 * wanted:
        reach = query.radius_km * math.sqrt(wanted / total)
    batch = 2 * wanted + 8
    while True:
        sql.set_reach(reach)
        rows = session.execute(_sql(sql.select(
            "d.id, d.c2, 0", order="d.c2, d.id", limit=batch)),
            sql.params).all()
        complete = reach >= query.radius_km and len(rows) < batch
        if len(rows) == batch:
            # Rows left out sort after the last one: of its rank, none has a shorter chord.
            sql.params["c2reach"] = rows[-1][1]
        ranked = _settle_order(session, sql, query, rows, wanted, complete=complete)
        if ranked is not None:
            return ranked
        if len(rows) == batch:
            batch *= 4
        else:
            reach *= 2


def _settle_order(session: Session, sql: _SearchSQL, query: SearchQuery, rows: list,
                  wanted: int, *, complete: bool) -> list[tuple] | None:
    """Exact order of the first `wanted` of `rows`, or None when the rows within the reach
    cannot prove it (the caller widens the reach).

    SQL's chords may be off by CHORD_SLACK_KM, so a row's distance lies within
    [chord - slack, upper bound of (chord + slack)]; rows whose ranges overlap form a
    cluster. Each member's distance then comes from its exact coordinates: the chord's
    bounds when they are tight (a single member), the geodesic otherwise."""
    slack = CHORD_SLACK_KM
    reach = math.sqrt(sql.params["c2reach"]) - slack  # every row left out is beyond this
    sure = chord_surely_within_km(query.radius_km)
    centre = ecef_km(query.lat, query.lon)
    coords = _LazyCoordinates(session, [r[0] for r in rows])
    out: list[tuple] = []
    cluster: list[tuple] = []  # (negated rank, id)
    cluster_end = -1.0

    def close_cluster() -> None:
        members = []
        for negrank, shop_id in cluster:
            lat, lon = coords[shop_id]
            chord = math.dist(centre, ecef_km(lat, lon))
            if chord > query.radius_km:
                continue
            distance = distance_from_chord_km(chord) if len(cluster) == 1 else None
            if distance is None or chord > sure:
                distance = geodesic_km(query.lat, query.lon, lat, lon)
                if distance > query.radius_km:
                    continue
            members.append((negrank, distance, shop_id))
        out.extend(sorted(members))
        cluster.clear()

    for shop_id, c2, rank in rows:
        chord = math.sqrt(max(c2, 0.0))
        if cluster and (-rank != cluster[-1][0] or chord - slack > cluster_end):
            close_cluster()
            if len(out) >= wanted:
                return out[:wanted]
        if not cluster:
            cluster_end = -1.0
        cluster.append((-rank, shop_id))
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


class _LazyCoordinates:
    """Exact coordinates of rows, fetched in chunks as the order is settled."""

    CHUNK = 64

    def __init__(self, session: Session, ids: list[int]) -> None:
        self.session, self.ids = session, ids
        self.position = {shop_id: i for i, shop_id in enumerate(ids)}
        self.known: dict[int, tuple[float, float]] = {}

    def __getitem__(self, shop_id: int) -> tuple[float, float]:
        if shop_id not in self.known:
            start = self.position[shop_id]
            self.known.update(_coordinates(self.session, self.ids[start:start + self.CHUNK]))
        return self.known[shop_id]


def _coordinates(session: Session, ids: list[int]) -> dict[int, tuple[float, float]]:
    if not ids:
        return {}
    rows = session.execute(_COORDINATES, {"ids": ids}).all()
    return {shop_id: (lat, lon) for shop_id, lat, lon in rows}


def _hits(session: Session, page: list[tuple], now: datetime) -> list[Hit]:
    ids = [shop_id for _rank, _d, shop_id in page]
    if not ids:
        return []
    rows = session.execute(_HOURS, {"ids": ids}).all()
    info = {r[0]: r[1:] for r in rows}
    hits = []
    for _rank, distance, shop_id in page:
        hours_text, zone, country = info[shop_id]
        is_open, change = hours.state_at(hours_text, zone, country, now)
        hits.append(Hit(shop_id, distance, is_open, change))
    return hits


def hv_is_valid(level: str, valid_until: date | None, today: date,
                minimum: str = "1S") -> bool:
    """A high-voltage qualification counts when it is at least `minimum` and not expired."""
    return (level in HV_LEVELS and HV_LEVELS.index(level) >= HV_LEVELS.index(minimum)
            and valid_until is not None and valid_until >= today)
