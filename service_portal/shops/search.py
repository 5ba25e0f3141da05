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
from bisect import insort
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlmodel import Session

from ..geo.geodesy import bounding_boxes, chord_surely_within_km, ecef_km, geodesic_km
from . import hours
from .models import AUTH_LEVELS, HV_LEVELS

#: Slack on the chord thresholds, far above float rounding, far below a metre.
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
    combos = None
    if query.open_now is not None or query.sort == "best":
        combos = _open_combos(session, sql, query.now)
        if query.open_now is True and not combos[0]:
            return SearchPage(0, [])
        sql.use_open_combos(*combos)
    total = _count(session, sql, query)
    if total == 0 or query.offset >= total:
        return SearchPage(total, [])
    ranked = _top(session, sql, query, query.offset + query.limit)
    page = ranked[query.offset:query.offset + query.limit]
    return SearchPage(total, _hits(session, page, query.now))


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
        self.where: list[str] = ["d.c2 <= :c2max"]
        self.open_sql = "0"
        self._candidates(bounding_boxes(query.lat, query.lon, query.radius_km))
        self._filters()

    def _candidates(self, boxes) -> None:
        parts = []
        for i, (lat_min, lat_max, lon_min, lon_max) in enumerate(boxes):
            self.params.update({f"la{i}": lat_min, f"lb{i}": lat_max,
                                f"lo{i}": lon_min, f"lp{i}": lon_max})
            if self.dialect == "sqlite":
                parts.append(f"SELECT id, x, y, z FROM shops_rtree WHERE max_lat >= :la{i} "
                             f"AND min_lat <= :lb{i} AND max_lon >= :lo{i} "
                             f"AND min_lon <= :lp{i}")
            else:
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

    def use_open_combos(self, open_now: list[tuple], closed: list[tuple]) -> None:
        """Apply `open_now` and rank by it, from the hours combinations open right now."""
        values = self._values("op", open_now)
        is_open = (f"(s.opening_hours, s.timezone, s.country) IN (VALUES {values})"
                   if open_now else "0 = 1")
        self.open_sql = f"CASE WHEN {is_open} THEN 1 ELSE 0 END"
        if self.query.open_now is True:
            self.where.append(is_open)
        elif self.query.open_now is False and open_now:
            # Unknown hours are never open, so they belong to "not open now".
            self.where.append(f"(s.opening_hours IS NULL OR NOT ({is_open}))")

    def _values(self, prefix: str, combos: list[tuple]) -> str:
        rows = []
        for i, (hours_text, zone, country) in enumerate(combos):
            self.params.update({f"{prefix}h{i}": hours_text, f"{prefix}z{i}": zone,
                                f"{prefix}c{i}": country})
            rows.append(f"(:{prefix}h{i}, :{prefix}z{i}, :{prefix}c{i})")
        return ", ".join(rows)

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


def _literals(values) -> str:
    return ", ".join(f"'{v}'" for v in values)  # only our own enum constants reach here


def _open_combos(session: Session, sql: _SearchSQL,
                 now: datetime) -> tuple[list[tuple], list[tuple]]:
    """Distinct (hours, zone, country) among the candidates, split into open and closed.

    Shops share a handful of hour patterns, so this evaluates each pattern once instead
    of once per shop, and the total stays exact for `open_now`."""
    rows = session.execute(text(sql.select(
        "DISTINCT s.opening_hours, s.timezone, s.country", shop_join=True,
        extra_where="s.opening_hours IS NOT NULL")), sql.params).all()
    open_now, closed = [], []
    for hours_text, zone, country in rows:
        is_open, _next = hours.state_at(hours_text, zone, country, now)
        (open_now if is_open else closed).append((hours_text, zone, country))
    return open_now, closed


def _count(session: Session, sql: _SearchSQL, query: SearchQuery) -> int:
    """Shops in the radius: sure ones by chord, the thin ring by exact geodesic."""
    sure_filter = ("count(CASE WHEN d.c2 <= :c2sure THEN 1 END)")
    sure, within_chord = session.execute(
        text(sql.select(f"{sure_filter}, count(*)")), sql.params).one()
    if sure == within_chord:
        return sure
    ring = session.execute(text(sql.select("s.lat, s.lon", shop_join=True,
                                           extra_where="d.c2 > :c2sure")), sql.params).all()
    return sure + sum(1 for lat, lon in ring
                      if geodesic_km(query.lat, query.lon, lat, lon) <= query.radius_km)


def _top(session: Session, sql: _SearchSQL, query: SearchQuery,
         wanted: int) -> list[tuple]:
    """The first `wanted` matches in exact order: (rank key, distance, id) tuples.

    Rows arrive ordered by (rank, chord). The chord is a lower bound of the distance, so
    once a row's (rank, chord) sorts after the `wanted`-th exact key found so far, no
    later row can enter: the loop stops there."""
    rank_sql = _rank_sql(sql, query)
    batch = wanted + 16
    while True:
        rows = session.execute(text(sql.select(
            f"d.id, d.c2, {rank_sql} AS rank", order="rank DESC, d.c2, d.id", limit=batch)),
            sql.params).all()
        best: list[tuple] = []
        coords = _coordinates(session, [r[0] for r in rows])
        exhausted = len(rows) < batch
        stopped = False
        for shop_id, c2, rank in rows:
            chord = math.sqrt(max(c2, 0.0))
            if len(best) >= wanted and (-rank, chord) > best[wanted - 1][:2]:
                stopped = True
                break
            lat, lon = coords[shop_id]
            distance = geodesic_km(query.lat, query.lon, lat, lon)
            if distance <= query.radius_km:
                insort(best, (-rank, distance, shop_id))
        if stopped or exhausted:
            return best[:wanted]
        batch *= 4


def _rank_sql(sql: _SearchSQL, query: SearchQuery) -> str:
    """`best`: level for the brand, then open now, then valid HV level (each 0..3), packed
    into one number; `distance`: no rank."""
    if query.sort != "best":
        return "0"
    level = "0"
    if query.brand_id is not None:
        sql.params["rank_brand"] = query.brand_id
        level = ("COALESCE((SELECT CASE sb.level WHEN 'authorized' THEN 3 WHEN 'partner' "
                 "THEN 2 ELSE 1 END FROM shop_brands sb WHERE sb.shop_id = d.id "
                 "AND sb.brand_id = :rank_brand), 0)")
    sql.params["rank_today"] = query.now.date().isoformat()
    hv = ("CASE WHEN s.hv_valid_until >= :rank_today THEN (CASE s.hv_level WHEN '3S' THEN 3 "
          "WHEN '2S' THEN 2 WHEN '1S' THEN 1 ELSE 0 END) ELSE 0 END")
    return f"({level}) * 100 + ({sql.open_sql}) * 10 + ({hv})"


def _coordinates(session: Session, ids: list[int]) -> dict[int, tuple[float, float]]:
    if not ids:
        return {}
    rows = session.execute(text(f"SELECT id, lat, lon FROM shops WHERE id IN "
                                f"({', '.join(str(int(i)) for i in ids)})")).all()
    return {shop_id: (lat, lon) for shop_id, lat, lon in rows}


def _hits(session: Session, page: list[tuple], now: datetime) -> list[Hit]:
    ids = [shop_id for _rank, _d, shop_id in page]
    if not ids:
        return []
    rows = session.execute(text(
        "SELECT id, opening_hours, timezone, country FROM shops WHERE id IN "
        f"({', '.join(str(int(i)) for i in ids)})")).all()
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
