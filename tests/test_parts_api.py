"""`/api/v1/parts/<pn>` and its availability near a place."""

from __future__ import annotations

import pytest


@pytest.fixture
def chain(make, session):
    byd = make.brand("byd")
    seal = make.model(byd, "byd-seal")
    a, b, c = (make.part(byd, pn) for pn in ("BYD-A", "BYD-B", "BYD-C"))
    a.superseded_by_id, b.superseded_by_id = b.id, c.id
    session.add_all([a, b])
    session.commit()
    from service_portal.parts.models import PartFitment

    session.add(PartFitment(part_id=b.id, model_id=seal.id))
    session.commit()
    near = make.shop(name="Holds C", lat=50.11, lon=8.68)
    far = make.shop(name="Holds A", lat=50.20, lon=8.80)
    empty = make.shop(name="Empty shelf", lat=50.111, lon=8.681)
    make.stock(near, c, qty=3)
    make.stock(far, a, qty=1)
    make.stock(empty, b, qty=0)
    return a, b, c


def test_part_with_its_whole_chain(client, chain):
    body = client.get("/api/v1/parts/BYD-B").json
    assert body["chain"] == ["BYD-A", "BYD-B", "BYD-C"]
    assert body["superseded_by"] == "BYD-C" and body["current"] == "BYD-C"
    assert body["fits"] == ["byd-seal"] and body["brand"] == "byd"


def test_part_numbers_are_case_insensitive(client, chain):
    assert client.get("/api/v1/parts/byd-a").json["part_number"] == "BYD-A"


def test_unknown_part_is_404(client, chain):
    assert client.get("/api/v1/parts/NOPE").status_code == 404
    assert client.get("/api/v1/parts/%00%01").status_code == 404


def test_availability_counts_successors_nearest_first(client, chain):
    body = client.get("/api/v1/parts/BYD-A/availability?lat=50.11&lon=8.68").json
    assert [r["name"] for r in body["results"]] == ["Holds C", "Holds A"]
    assert body["results"][0]["match_reasons"][0] == "successor_in_stock"
    assert body["results"][1]["parts"] == [{"part_number": "BYD-A", "qty": 1,
                                           "price": "19.90", "currency": "EUR"}]
    newest = client.get("/api/v1/parts/BYD-C/availability?lat=50.11&lon=8.68").json
    assert [r["name"] for r in newest["results"]] == ["Holds C"]


def test_availability_takes_the_search_parameters(client, chain):
    assert client.get("/api/v1/parts/BYD-A/availability").status_code == 400
    assert client.get("/api/v1/parts/BYD-A/availability?lat=50&lon=8&part=X").status_code \
        == 400
    body = client.get("/api/v1/parts/BYD-A/availability?lat=50.11&lon=8.68&radius_km=1").json
    assert body["total"] == 1
