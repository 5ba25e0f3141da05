"""The search returns exactly the shops a brute-force geodesic scan finds, in its order,
also across the 180th meridian, near both poles and around lat/lon 0."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime

import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from service_portal.geo.geodesy import chord_surely_within_km, ecef_km, geodesic_km
from service_portal.parts.models import Stock
from service_portal.search.exact import SearchQuery, search_shops
from service_portal.shops import hours
from service_portal.shops.models import Shop, ShopBrand, ShopLanguage, ShopService

CENTRES = st.one_of(
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(st.floats(-1, 1), st.floats(-1, 1)),                       # around 0/0
    st.tuples(st.floats(-89, 89), st.sampled_from([-180.0, 180.0, 179.99, -179.99])),
    st.tuples(st.sampled_from([90.0, -90.0, 89.9, -89.9]), st.floats(-180, 180)),
)


def _place_shops(session, org_id, centre, offsets, brand_ids=(), extra=lambda i: {}):
    """Shops scattered around `centre` by (dlat, dlon) offsets, wrapped onto the globe;
    `extra(i)` adds columns to shop number i."""
    session.rollback()  # each example starts clean, even after a failing one
    session.execute(delete(Shop))
    rows = []
    for i, (dlat, dlon) in enumerate(offsets, start=1):
        # Rounded as every input path rounds coordinates (fields.COORDINATE_DECIMALS).
        lat = round(max(-90.0, min(90.0, centre[0] + dlat)), 7)
        lon = round((centre[1] + dlon + 180.0) % 360.0 - 180.0, 7)
        rows.append({"id": i, "external_id": f"p{i}", "organization_id": org_id,
                     "name": f"S{i}", "country": "DE", "lat": lat, "lon": lon,
                     "timezone": "UTC", "active": i % 11 != 0, "version": 1,
                     "created_at": datetime.now(UTC), "updated_at": datetime.now(UTC),
                     **extra(i)})
    if rows:
        session.execute(insert(Shop), rows)
    if brand_ids and rows:
        session.execute(insert(ShopBrand), [
            {"shop_id": r["id"], "brand_id": brand_ids[r["id"] % len(brand_ids)],
             "level": ("independent", "partner", "authorized")[r["id"] % 3]} for r in rows])
    session.commit()
    return rows


def _brute_force(rows, centre, radius, keep=lambda row: True):
    found = []
    for row in rows:
        if not row["active"] or not keep(row):
            continue
        d = geodesic_km(centre[0], centre[1], row["lat"], row["lon"])
        if d <= radius:
            found.append((d, row["id"]))
    return sorted(found)


OFFSETS = st.lists(st.tuples(st.floats(-12, 12), st.floats(-40, 40)), min_size=0, max_size=60)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(centre=CENTRES, offsets=OFFSETS, radius=st.floats(0.001, 1000),
       limit=st.integers(1, 100), offset=st.integers(0, 40))
def test_search_matches_a_brute_force_geodesic_scan(make, session, centre, offsets, radius,
                                                    limit, offset):
    session.rollback()
    rows = _place_shops(session, make.org().id, centre, offsets)
    expected = _brute_force(rows, centre, radius)
    page = search_shops(session, SearchQuery(lat=centre[0], lon=centre[1], radius_km=radius,
                                             limit=limit, offset=offset))
    assert page.total == len(expected)
    assert [h.shop_id for h in page.hits] == [i for _d, i in expected[offset:offset + limit]]
    for hit, (distance, _id) in zip(page.hits, expected[offset:offset + limit], strict=True):
        assert abs(hit.distance_km - distance) <= 0.0005  # reported to the half metre
        assert hit.distance_km <= radius


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(centre=CENTRES, offsets=OFFSETS, radius=st.floats(1, 1000),
       minimum=st.sampled_from([None, "independent", "partner", "authorized"]))
def test_brand_filter_matches_a_brute_force_scan(make, session, centre, offsets, radius,
                                                 minimum):
    session.rollback()
    alpha, beta = make.brand(), make.brand()
    rows = _place_shops(session, make.org().id, centre, offsets, (alpha.id, beta.id))
    levels = ("independent", "partner", "authorized")
    floor = levels.index(minimum or "independent")

    def keep(row):
        return row["id"] % 2 == 0 and row["id"] % 3 >= floor  # alpha, at least `minimum`

    expected = _brute_force(rows, centre, radius, keep)
    page = search_shops(session, SearchQuery(lat=centre[0], lon=centre[1], radius_km=radius,
                                             limit=100, brand_id=alpha.id, min_level=minimum))
    assert page.total == len(expected)
    assert [h.shop_id for h in page.hits] == [i for _d, i in expected[:100]]


def test_search_across_the_antimeridian(make, session):
    org = make.org()
    rows = _place_shops(session, org.id, (-17.0, 179.9), [(0, 0.2), (0, -0.2), (0, 1.5)])
    page = search_shops(session, SearchQuery(lat=-17.0, lon=179.9, radius_km=30))
    assert [h.shop_id for h in page.hits] == [i for _d, i in _brute_force(rows, (-17, 179.9), 30)]
    assert page.total == 2


def test_search_at_the_north_pole_finds_shops_at_every_longitude(make, session):
    org = make.org()
    offsets = [(-0.5, lon) for lon in (-170, -90, 0, 90, 170)]
    _place_shops(session, org.id, (90.0, 0.0), offsets)
    page = search_shops(session, SearchQuery(lat=90.0, lon=0.0, radius_km=60))
    assert page.total == 5


DENSE = st.lists(st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3)), min_size=50,
                 max_size=300)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(centre=CENTRES, offsets=DENSE, radius=st.floats(5, 60), limit=st.integers(1, 8),
       offset=st.integers(0, 6))
def test_dense_pages_match_a_brute_force_scan(make, session, centre, offsets, radius, limit,
                                              offset):
    """Many shops, small pages: the search narrows its reach and must still be exact."""
    session.rollback()
    rows = _place_shops(session, make.org().id, centre, offsets)
    expected = _brute_force(rows, centre, radius)
    page = search_shops(session, SearchQuery(lat=centre[0], lon=centre[1], radius_km=radius,
                                             limit=limit, offset=offset))
    assert page.total == len(expected)
    assert [h.shop_id for h in page.hits] == [i for _d, i in expected[offset:offset + limit]]


HOURS = (None, "24/7", "off", "Mo-Fr 08:00-18:00", "Sa,Su 10:00-14:00", "Mo-Su 00:00-12:00")
HV = ("none", "1S", "2S", "3S")


def _hours_and_hv(i: int) -> dict:
    return {"opening_hours": HOURS[i % len(HOURS)], "hv_level": HV[i % 4],
            "hv_valid_until": date(2030, 1, 1) if i % 5 else date(2020, 1, 1)}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(centre=CENTRES, offsets=st.one_of(OFFSETS, DENSE), radius=st.floats(5, 400),
       open_now=st.sampled_from([None, True, False]), best=st.booleans(),
       with_brand=st.booleans(), hour=st.integers(0, 23), limit=st.integers(1, 8),
       offset=st.integers(0, 6))
def test_open_now_and_best_match_a_brute_force_scan(make, session, centre, offsets, radius,
                                                    open_now, best, with_brand, hour, limit,
                                                    offset):
    """`open_now` and `sort=best` (authorisation, open, HV level, then distance, then id)
    give exactly the shops and the order a scan of every shop by hand gives."""
    assume(best or open_now is not None)
    session.rollback()
    alpha, beta = make.brand(), make.brand()
    rows = _place_shops(session, make.org().id, centre, offsets, (alpha.id, beta.id),
                        extra=_hours_and_hv)
    now = datetime(2026, 11, 25, hour, 30, tzinfo=UTC)  # a Wednesday
    levels = ("independent", "partner", "authorized")

    def state(row) -> bool:
        return hours.state_at(row["opening_hours"], "UTC", "DE", now)[0]

    def keep(row) -> bool:
        return ((not with_brand or row["id"] % 2 == 0)
                and (open_now is None or state(row) == open_now))

    def rank(row) -> int:
        level = levels.index(levels[row["id"] % 3]) + 1 if with_brand else 0
        hv = HV.index(row["hv_level"]) if row["hv_valid_until"] >= now.date() else 0
        return level * 100 + state(row) * 10 + hv

    by_id = {r["id"]: r for r in rows}
    found = _brute_force(rows, centre, radius, keep)
    if best:
        found.sort(key=lambda f: (-rank(by_id[f[1]]), f[0], f[1]))
    page = search_shops(session, SearchQuery(
        lat=centre[0], lon=centre[1], radius_km=radius, limit=limit, offset=offset,
        sort="best" if best else "distance", brand_id=alpha.id if with_brand else None,
        open_now=open_now, now=now))
    assert page.total == len(found)
    assert [h.shop_id for h in page.hits] == [i for _d, i in found[offset:offset + limit]]
    assert all(h.open_now == state(by_id[h.shop_id]) for h in page.hits)


@pytest.mark.parametrize("centre", [(50.11, 8.68), (0.0, 179.99), (-89.5, 30.0), (0.0, 0.0)])
@pytest.mark.parametrize("kind", ["plain", "brand", "open_now", "best"])
def test_shops_metres_either_side_of_the_radius(make, session, centre, kind):
    """At 300 km the chord cannot tell a shop 5 m inside from one 5 m outside (the ring
    where only the geodesic decides is 28 m wide there): every count and page path must
    still keep exactly the inner ones."""
    radius = 300.0
    points = []
    for azimuth in range(0, 360, 30):
        for metres in (radius * 1000 - 5, radius * 1000 + 5):
            end = Geodesic.WGS84.Direct(centre[0], centre[1], azimuth, metres)
            points.append((end["lat2"] - centre[0], end["lon2"] - centre[1]))
    session.rollback()
    brand = make.brand()
    rows = _place_shops(session, make.org().id, centre, points, (brand.id,))
    inside = _brute_force(rows, centre, radius)
    assert len(inside) == len([r for r in rows if r["active"] and r["id"] % 2])
    sure = chord_surely_within_km(radius)
    in_ring = [r for r in rows if sure < math.dist(ecef_km(*centre), ecef_km(r["lat"], r["lon"]))
               <= radius]
    assert len(in_ring) >= 6  # the geodesic, not the chord, decides for these
    query = SearchQuery(lat=centre[0], lon=centre[1], radius_km=radius, limit=100,
                        brand_id=brand.id if kind in ("brand", "best") else None,
                        open_now=False if kind == "open_now" else None,
                        sort="best" if kind == "best" else "distance")
    page = search_shops(session, query)
    assert page.total == len(inside)
    assert sorted(h.shop_id for h in page.hits) == sorted(i for _d, i in inside)
    assert all(h.distance_km <= radius for h in page.hits)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(centre=CENTRES, offsets=st.one_of(OFFSETS, DENSE), radius=st.floats(5, 400),
       services=st.sets(st.integers(0, 2), max_size=2), part=st.sampled_from([None, 0, 1]),
       language=st.sampled_from([None, "pt", "de"]),
       hv_min=st.sampled_from([None, "1S", "2S", "3S"]), limit=st.integers(1, 8),
       offset=st.integers(0, 6))
def test_every_sql_filter_matches_a_brute_force_scan(make, session, centre, offsets, radius,
                                                     services, part, language, hv_min, limit,
                                                     offset):
    """Services (all of them), a part or its successor in stock (qty > 0), a language
    (`pt` takes `pt-BR`) and a valid minimum HV level, combined: exactly the shops a scan
    by hand keeps, in distance order, on every page."""
    session.rollback()
    brand = make.brand()
    offered = [make.service() for _ in range(3)]
    old, new = make.part(brand), make.part(brand)
    old.superseded_by_id = new.id
    session.commit()
    rows = _place_shops(session, make.org().id, centre, offsets, extra=_hours_and_hv)
    spoken = ("de", "pt-BR", "fr", "pt")
    # Independent draws per shop, so that no filter's pattern hides another's.
    traits = {}
    for row in rows:
        draw = random.Random(row["id"])
        traits[row["id"]] = {"services": {k for k in range(3) if draw.random() < 0.6},
                             "held": draw.choice([None, old, new]), "qty": draw.choice([0, 2]),
                             "tongue": draw.choice(spoken)}
    links = [{"shop_id": i, "service_id": offered[k].id}
             for i, t in traits.items() for k in t["services"]]
    stock = [{"shop_id": i, "part_id": t["held"].id, "qty": t["qty"], "currency": "EUR",
              "min_qty": 0, "version": 1, "updated_at": datetime.now(UTC)}
             for i, t in traits.items() if t["held"] is not None]
    tongues = [{"shop_id": i, "language": t["tongue"]} for i, t in traits.items()]
    for model, values in ((ShopService, links), (Stock, stock), (ShopLanguage, tongues)):
        if values:
            session.execute(insert(model), values)
    session.commit()
    today = date(2026, 11, 28)

    def keep(row) -> bool:
        t = traits[row["id"]]
        if not services <= t["services"]:
            return False
        if part is not None:  # asked for old (0): old or new count; for new (1): new only
            if t["held"] is None or not t["qty"] or (part == 1 and t["held"] is old):
                return False
        if language and not (t["tongue"] == language
                             or t["tongue"].startswith(language + "-")):
            return False
        return not hv_min or (HV.index(row["hv_level"]) >= HV.index(hv_min)
                              and row["hv_valid_until"] >= today)

    expected = _brute_force(rows, centre, radius, keep)
    chain = [old.id, new.id] if part == 0 else [new.id]
    page = search_shops(session, SearchQuery(
        lat=centre[0], lon=centre[1], radius_km=radius, limit=limit, offset=offset,
        service_ids=[offered[k].id for k in sorted(services)],
        part_chains=[chain] if part is not None else [], language=language, hv_min=hv_min,
        now=datetime(2026, 11, 28, 12, tzinfo=UTC)))
    assert page.total == len(expected)
    assert [h.shop_id for h in page.hits] == [i for _d, i in expected[offset:offset + limit]]
