"""Battery take-back points: what a shop takes, stated by its dealer (audited), found by the
search filters `takes_chemistry` and `takes_damaged` at once, and shown in words."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service_portal.audit.actors import Actor
from service_portal.audit.models import AuditEntry
from service_portal.shops.models import ShopTakeback
from service_portal.shops.takeback import set_takeback
from tests.helpers import csrf_token, sign_in

PASSWORD = "correct horse battery staple"
FRANKFURT = {"lat": "50.1109", "lon": "8.6821", "radius_km": "30"}


@pytest.fixture
def world(make, session):
    byd = make.brand("byd")
    make.model(byd, "byd-seal", battery_chemistry="lfp")
    make.model(byd, "byd-han", battery_chemistry="nmc")
    recycling, towing = make.service("battery-recycling"), make.service("towing")
    org = make.org("kreislauf")
    lfp = make.shop(org, name="LFP Point", services=[recycling], lat=50.11, lon=8.68)
    nmc = make.shop(org, name="NMC Point", services=[recycling, towing], lat=50.12, lon=8.70)
    unstated = make.shop(org, name="Unstated Point", services=[recycling], lat=50.10, lon=8.66)
    # States take-back but no longer offers the service: not a take-back point.
    former = make.shop(org, name="Former Point", services=[towing], lat=50.13, lon=8.69)
    riyadh = make.shop(org, name="Riyadh Point", services=[recycling], country="SA",
                       lat=24.71, lon=46.67, timezone="Asia/Riyadh")
    actor = Actor.command_line()
    for shop, chems, damaged in ((lfp, ["lfp"], True), (nmc, ["nmc"], False),
                                 (former, ["lfp", "nmc"], True), (riyadh, ["lfp"], True)):
        set_takeback(session, shop, chemistries=chems, damaged=damaged, max_weight_kg=700,
                     free=True, scheme="GRS Batterien", actor=actor)
    session.commit()
    make.user("dealer", org, email="dealer@kreislauf.example", password=PASSWORD)
    return {"lfp": lfp, "nmc": nmc, "unstated": unstated, "former": former, "riyadh": riyadh}


def names(client, **params) -> list[str]:
    response = client.get("/api/v1/shops", query_string=FRANKFURT | params)
    assert response.status_code == 200, response.get_json()
    return sorted(r["name"] for r in response.get_json()["results"])


@pytest.mark.parametrize("params, expected", [
    ({"takes_chemistry": "lfp"}, ["LFP Point"]),
    ({"takes_chemistry": "NMC"}, ["NMC Point"]),
    ({"takes_damaged": "true"}, ["LFP Point"]),
    ({"takes_chemistry": "nmc", "takes_damaged": "true"}, []),
    ({"takes_chemistry": "sodium-ion"}, []),
    ({"takes_damaged": "false", "service": "battery-recycling"},
     ["LFP Point", "NMC Point", "Unstated Point"]),
])
def test_takeback_filters_find_the_points_that_take_it(client, world, params, expected):
    assert names(client, **params) == expected


@pytest.mark.parametrize("params, field", [
    ({"takes_chemistry": "l f p"}, "takes_chemistry"),
    ({"takes_damaged": "maybe"}, "takes_damaged"),
    ({"takes_chemistry": ["lfp", "nmc"]}, "takes_chemistry"),
])
def test_bad_takeback_filters_are_a_400_naming_them(client, world, params, field):
    response = client.get("/api/v1/shops", query_string=FRANKFURT | params)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_search_results_carry_what_a_point_takes(client, world):
    body = client.get("/api/v1/shops", query_string=FRANKFURT | {"takes_chemistry": "lfp"})
    assert body.get_json()["results"][0]["takeback"] == {
        "chemistries": ["lfp"], "damaged": True, "max_weight_kg": 700, "free": True,
        "scheme": "GRS Batterien"}
    others = client.get("/api/v1/shops", query_string=FRANKFURT | {"service": "towing"})
    assert {r["name"]: r["takeback"] for r in others.get_json()["results"]}["Former Point"] \
        is None


def test_a_takeback_change_reaches_the_search_at_once(client, world, session):
    assert names(client, takes_chemistry="nmc") == ["NMC Point"]  # the index is loaded
    set_takeback(session, world["unstated"], chemistries=["lfp", "nmc"], damaged=True,
                 max_weight_kg=None, free=False, scheme="", actor=Actor.command_line())
    session.commit()
    assert names(client, takes_chemistry="nmc") == ["NMC Point", "Unstated Point"]
    assert names(client, takes_damaged="true") == ["LFP Point", "Unstated Point"]
    session.delete(session.get(ShopTakeback, world["lfp"].id))
    session.commit()
    assert names(client, takes_damaged="true") == ["Unstated Point"]


def test_the_search_page_filters_take_back_points(client, world):
    page = client.get("/", query_string=FRANKFURT | {"takes_chemistry": "nmc"}).text
    assert "NMC Point" in page and "LFP Point" not in page
    assert "Takes NMC (nickel manganese cobalt) batteries" in page


def test_shop_page_says_what_it_takes_and_the_eu_right(client, world):
    page = client.get(f"/shops/{world['lfp'].id}").text
    assert "Takes LFP (lithium iron phosphate) batteries" in page
    assert "damaged or defective packs too" in page and "free of charge" in page
    assert "GRS Batterien" in page and "2023/1542" in page
    riyadh = client.get(f"/shops/{world['riyadh'].id}").text
    assert "Takes LFP (lithium iron phosphate) batteries" in riyadh
    assert "2023/1542" not in riyadh
    unstated = client.get(f"/shops/{world['unstated'].id}").text
    assert "has not said which batteries it takes back" in unstated


def _profile(client, shop_id: int) -> tuple[str, dict]:
    url = f"/dealer/shops/{shop_id}/profile"
    page = client.get(url).text
    base = {"csrf_token": csrf_token(page), "version": "1", "name": "Unstated Point",
            "hv_level": "none", "services": ["battery-recycling"], "action": "save"}
    return page, base


def test_dealer_states_takeback_on_the_profile_and_it_is_audited(client, world, session):
    shop = world["unstated"]
    sign_in(client, "dealer@kreislauf.example", PASSWORD)
    page, base = _profile(client, shop.id)
    assert 'id="takeback"' in page and "LFP (lithium iron phosphate)" in page
    response = client.post(f"/dealer/shops/{shop.id}/profile", data={
        **base, "takes_chemistries": ["lfp", "nmc"], "takes_damaged": "y",
        "takes_max_weight_kg": "650", "takes_scheme": "Epbat"})
    assert response.status_code == 303
    session.rollback()
    row = session.get(ShopTakeback, shop.id)
    assert (row.chemistries, row.damaged, row.max_weight_kg, row.free, row.scheme) == (
        "lfp;nmc", True, 650, False, "Epbat")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "shop.takeback",
                                                     AuditEntry.entity_id == str(shop.id))).one()
    assert entry.before is None and entry.after["chemistries"] == ["lfp", "nmc"]
    assert names(client, takes_chemistry="nmc") == ["NMC Point", "Unstated Point"]


@pytest.mark.parametrize("field, value", [
    ("takes_max_weight_kg", "0"), ("takes_max_weight_kg", "heavy"),
    ("takes_max_weight_kg", "99999"), ("takes_chemistries", "plutonium"),
    ("takes_scheme", "line\nbreak"),
])
def test_profile_refuses_bad_takeback_and_changes_nothing(client, world, session, field, value):
    shop = world["lfp"]
    sign_in(client, "dealer@kreislauf.example", PASSWORD)
    _page, base = _profile(client, shop.id)
    base["name"] = "LFP Point renamed"
    data = {**base, "takes_chemistries": ["lfp"], "takes_scheme": "GRS Batterien",
            "takes_free": "y", field: value}
    response = client.post(f"/dealer/shops/{shop.id}/profile", data=data)
    assert response.status_code == 422
    session.rollback()
    session.expire_all()
    row = session.get(ShopTakeback, shop.id)
    assert (row.chemistries, row.max_weight_kg, row.scheme) == ("lfp", 700, "GRS Batterien")
    from service_portal.shops.models import Shop

    assert session.get(Shop, shop.id).name == "LFP Point"


def test_profile_hides_takeback_for_other_shops(client, world):
    sign_in(client, "dealer@kreislauf.example", PASSWORD)
    page = client.get(f"/dealer/shops/{world['former'].id}/profile").text
    assert 'id="takeback"' not in page


def test_demo_data_has_takeback_points_in_every_hub(cli, client):
    assert cli("init-db").exit_code == 0
    assert cli("seed").exit_code == 0
    for near, country in (("Frankfurt", "DE"), ("Riyadh", "SA"), ("Singapore", "SG"),
                          ("Mexico City", "MX")):
        body = client.get("/api/v1/shops", query_string={
            "near": near, "country": country, "radius_km": "40",
            "takes_chemistry": "lfp"}).get_json()
        assert body["total"] >= 1, near
        assert all("lfp" in r["takeback"]["chemistries"] for r in body["results"])
