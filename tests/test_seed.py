"""The demo data set: what it promises, and that loading it twice changes nothing."""

from __future__ import annotations

import pytest
from geopy.distance import geodesic
from sqlalchemy import func, select

from service_portal.bulletins.models import Bulletin, BulletinText
from service_portal.catalog.models import Brand, Service, VehicleModel
from service_portal.models import metadata
from service_portal.parts.models import Part, Stock
from service_portal.seeding.generate import EXTERNAL_PREFIX, cities
from service_portal.shops.models import Organization, Shop
from service_portal.users.models import User

CITIES = ("Frankfurt am Main", "München", "Berlin", "Oslo", "Stockholm", "Amsterdam", "Bruxelles",
          "Paris", "Madrid", "Milano", "London", "Riyadh", "Jeddah", "Dubai", "Singapore",
          "Kuala Lumpur", "Bangkok", "Jakarta", "Sydney", "Auckland", "Ciudad de México",
          "Monterrey", "São Paulo", "Santiago")


@pytest.fixture
def seeded(cli):
    assert cli("init-db").exit_code == 0
    result = cli("seed")
    assert result.exit_code == 0, result.output
    return result


def scalar(session, query):
    session.rollback()
    return session.scalar(query)


def test_seed_has_every_brand_service_and_enough_models(seeded, session):
    assert set(session.scalars(select(Brand.slug))) == {
        "byd", "nio", "xpeng", "zeekr", "mg", "geely", "gwm-ora", "leapmotor", "omoda",
        "lynk-co", "gac-aion", "polestar"}
    assert scalar(session, select(func.count(Service.id))) == 11
    models = set(session.scalars(select(VehicleModel.slug)))
    assert len(models) >= 30
    assert {"byd-atto-3", "byd-dolphin", "byd-seal", "mg-mg4", "xpeng-g6", "nio-et5",
            "zeekr-001", "zeekr-7x"} <= models


def test_seed_has_shops_in_the_promised_cities(seeded, session):
    assert scalar(session, select(func.count(Shop.id))) >= 200
    assert scalar(session, select(func.count(func.distinct(Shop.country)))) >= 20
    cities = {c.lower() for c in session.scalars(select(Shop.city).distinct())}
    assert len(cities) >= 30
    missing = [c for c in CITIES if not any(c.lower() in city or city in c.lower()
                                            for city in cities)]
    assert missing == []


def test_seed_has_parts_with_chains_and_stock_for_most_shops(seeded, session):
    assert scalar(session, select(func.count(Part.id))) >= 300
    successor = dict(session.execute(select(Part.id, Part.superseded_by_id)).all())

    def length(pid):
        n = 1
        while successor.get(pid):
            pid, n = successor[pid], n + 1
        return n

    assert max(length(p) for p in successor) >= 3
    shops = scalar(session, select(func.count(Shop.id)))
    stocked = scalar(session, select(func.count(func.distinct(Stock.shop_id))))
    assert stocked >= 0.75 * shops


def test_seed_has_bulletins_in_several_languages(seeded, session):
    assert scalar(session, select(func.count(Bulletin.id))) >= 30
    per_bulletin = session.execute(select(BulletinText.bulletin_id, func.count())
                                   .group_by(BulletinText.bulletin_id)).all()
    assert all(n >= 3 for _b, n in per_bulletin)
    assert scalar(session, select(func.count()).select_from(BulletinText)
                  .where(BulletinText.locale == "en")) == len(per_bulletin)


def test_seed_makes_demo_users_without_passwords(seeded, session):
    orgs = scalar(session, select(func.count(Organization.id)))
    assert orgs >= 20
    roles = dict(session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert roles == {"dealer": orgs, "staff": 1, "admin": 1}
    assert scalar(session, select(func.count(User.id))
                  .where(User.password_hash.is_not(None))) == 0


def snapshot(session) -> dict[str, list]:
    session.rollback()
    return {t.name: sorted(map(repr, session.execute(select(t)).all()))
            for t in metadata.sorted_tables}


def test_seed_twice_changes_nothing(seeded, cli, session):
    before = snapshot(session)
    again = cli("seed")
    assert again.exit_code == 0, again.output
    assert snapshot(session) == before


def test_generated_shops_are_added_once_with_stock(seeded, cli, session):
    result = cli("seed", "--shops", "300", "--random-seed", "7")
    assert result.exit_code == 0, result.output
    generated = select(func.count(Shop.id)).where(Shop.external_id.like(f"{EXTERNAL_PREFIX}%"))
    assert scalar(session, generated) == 300
    stock = scalar(session, select(func.count(Stock.id)))
    first = snapshot(session)
    cli("seed", "--shops", "300", "--random-seed", "7")
    assert snapshot(session) == first
    cli("seed", "--shops", "350", "--random-seed", "7")
    assert scalar(session, generated) == 350
    assert scalar(session, select(func.count(Stock.id))) > stock
    # Generated shops lie within 16 km of a real city and carry the city's zone.
    rows = session.execute(select(Shop.external_id, Shop.lat, Shop.lon, Shop.timezone,
                                  Shop.country)
                           .where(Shop.external_id.like(f"{EXTERNAL_PREFIX}%"))).all()
    places = cities()
    for row in rows:
        near = [c for c in places if abs(c.lat - row.lat) < 0.2 and c.country == row.country
                and c.timezone == row.timezone
                and geodesic((row.lat, row.lon), (c.lat, c.lon)).km <= 16]
        assert near, f"{row.external_id} at {row.lat}, {row.lon} is near no city of its zone"


def test_seeding_the_demo_cases_sends_nobody_an_email(seeded, session):
    from sqlalchemy import func, select

    from service_portal.notifications.models import Notification

    session.rollback()
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
