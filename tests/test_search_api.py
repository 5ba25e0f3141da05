"""`GET /api/v1/shops` and friends over HTTP: filters, orders, reasons, paging, errors."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

FRANKFURT = (50.1109, 8.6821)


@pytest.fixture
def town(make, session):
    """A small town of shops around Frankfurt with brands, services, stock and hours."""
    byd, mg = make.brand("byd"), make.brand("mg")
    seal = make.model(byd, "byd-seal")
    hv, tyres = make.service("hv-battery"), make.service("tyres")
    old = make.part(byd, "BYD-OLD")
    new = make.part(byd, "BYD-NEW")
    old.superseded_by_id = new.id
    session.add(old)
    session.commit()
    future = date.today() + timedelta(days=365)
    shops = {
        "near_partner": make.shop(name="Near Partner", lat=50.112, lon=8.683,
                                  brands=[(byd, "partner")], services=[hv, tyres],
                                  languages=["de", "pt-BR"], hv_level="2S",
                                  hv_valid_until=future, opening_hours="24/7"),
        "mid_authorized": make.shop(name="Mid Authorised", lat=50.13, lon=8.70,
                                    brands=[(byd, "authorized"), (mg, "partner")],
                                    services=[hv], languages=["de", "ar"], hv_level="3S",
                                    hv_valid_until=future, opening_hours=None),
        "far_independent": make.shop(name="Far Independent", lat=50.30, lon=8.90,
                                     brands=[(byd, "independent")], services=[tyres],
                                     languages=["en"], hv_level="3S",
                                     hv_valid_until=date.today() - timedelta(days=1),
                                     opening_hours="Mo-Su 00:00-00:01"),
        "mg_only": make.shop(name="MG Only", lat=50.12, lon=8.69, brands=[(mg, "authorized")],
                             services=[hv, tyres], languages=["de"]),
        "out_of_range": make.shop(name="Munich", lat=48.137, lon=11.575,
                                  brands=[(byd, "authorized")], services=[hv]),
    }
    make.stock(shops["near_partner"], old, qty=2)
    make.stock(shops["mid_authorized"], new, qty=1, price=Decimal("49.90"))
    make.stock(shops["far_independent"], new, qty=0)
    return {**shops, "seal": seal}


def search(client, **params):
    params.setdefault("lat", FRANKFURT[0])
    params.setdefault("lon", FRANKFURT[1])
    response = client.get("/api/v1/shops", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def names(body):
    return [r["name"] for r in body["results"]]


def test_results_are_ordered_by_distance_within_the_radius(client, town):
    body = search(client)
    assert names(body) == ["Near Partner", "MG Only", "Mid Authorised", "Far Independent"]
    assert body["total"] == 4
    distances = [r["distance_km"] for r in body["results"]]
    assert distances == sorted(distances) and all(d <= 50 for d in distances)
    assert body["query"] == {"lat": FRANKFURT[0], "lon": FRANKFURT[1], "place": None,
                             "radius_km": 50.0, "sort": "distance"}


def test_result_carries_every_contract_field(client, town):
    result = search(client, brand="byd", part="BYD-OLD")["results"][0]
    assert set(result) >= {"id", "external_id", "name", "organization", "brands", "services",
                           "languages", "address", "city", "postal_code", "country", "lat",
                           "lon", "timezone", "phone", "email", "website", "opening_hours",
                           "open_now", "next_change", "distance_km", "parts",
                           "match_reasons"}
    assert result["parts"] == [{"part_number": "BYD-OLD", "qty": 2, "price": "19.90",
                                "currency": "EUR"}]


def test_paging_is_consistent(client, town):
    first = search(client, limit=2)
    second = search(client, limit=2, offset=2)
    assert first["total"] == second["total"] == 4
    assert names(first) + names(second) == names(search(client))
    assert (first["limit"], second["offset"]) == (2, 2)


def test_brand_filter_and_minimum_authorisation(client, town):
    assert set(names(search(client, brand="byd"))) == {"Near Partner", "Mid Authorised",
                                                       "Far Independent"}
    assert names(search(client, brand="byd", authorization="partner")) == [
        "Near Partner", "Mid Authorised"]
    assert names(search(client, brand="byd", authorization="authorized")) == ["Mid Authorised"]


def test_model_implies_its_brand(client, town):
    assert names(search(client, model="byd-seal")) == names(search(client, brand="byd"))


def test_every_requested_service_must_be_offered(client, town):
    assert names(search(client, service=["hv-battery", "tyres"])) == ["Near Partner", "MG Only"]


def test_part_filter_counts_successors_and_ignores_empty_shelves(client, town):
    body = search(client, part="BYD-OLD")
    assert names(body) == ["Near Partner", "Mid Authorised"]
    reasons = {r["name"]: r["match_reasons"] for r in body["results"]}
    assert "part_in_stock" in reasons["Near Partner"]
    assert "successor_in_stock" in reasons["Mid Authorised"]
    assert names(search(client, part="BYD-NEW")) == ["Mid Authorised"]


def test_language_matches_regional_variants(client, town):
    assert names(search(client, language="pt")) == ["Near Partner"]
    assert names(search(client, language="ar")) == ["Mid Authorised"]


def test_hv_level_needs_a_valid_qualification(client, town):
    assert names(search(client, hv_level="3S")) == ["Mid Authorised"]
    assert names(search(client, hv_level="2S")) == ["Near Partner", "Mid Authorised"]


def test_unknown_hours_are_never_open_but_not_hidden(client, town):
    open_now = search(client, open_now="true")
    assert "Near Partner" in names(open_now) and "Mid Authorised" not in names(open_now)
    closed = search(client, open_now="false")
    assert "Mid Authorised" in names(closed) and "Near Partner" not in names(closed)
    everything = {r["name"]: r for r in search(client)["results"]}
    assert everything["Mid Authorised"]["open_now"] is False
    assert everything["Mid Authorised"]["next_change"] is None
    assert everything["Near Partner"]["open_now"] is True


def test_best_sort_puts_authorised_first_with_reasons(client, town):
    body = search(client, brand="byd", sort="best")
    assert names(body) == ["Mid Authorised", "Near Partner", "Far Independent"]
    assert body["results"][0]["match_reasons"][0] == "brand_authorized"
    assert "hv_qualified" in body["results"][0]["match_reasons"]
    assert "hv_qualified" not in body["results"][2]["match_reasons"]  # expired


def test_shop_by_id(client, town):
    shop = town["near_partner"]
    body = client.get(f"/api/v1/shops/{shop.id}").json
    assert body["name"] == "Near Partner" and "distance_km" not in body
    assert client.get("/api/v1/shops/999999").status_code == 404


@pytest.mark.parametrize("params, field", [
    ({"radius_km": "nan"}, "radius_km"), ({"radius_km": "inf"}, "radius_km"),
    ({"radius_km": "0"}, "radius_km"), ({"radius_km": "1000.1"}, "radius_km"),
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"offset": "-1"}, "offset"),
    ({"lat": "91"}, "lat"), ({"lon": "abc"}, "lon"), ({"sort": "price"}, "sort"),
    ({"authorization": "partner"}, "authorization"), ({"hv_level": "4S"}, "hv_level"),
    ({"open_now": "yes"}, "open_now"), ({"language": "xx"}, "language"),
    ({"brand": "BYD!"}, "brand"), ({"near": "Frankfurt"}, "near"),
    ({"brand": "a\x00b"}, "brand"), ({"colour": "red"}, "colour"),
    ({"limit": "٣"}, "limit"),
])
def test_bad_parameters_answer_400_naming_the_field(client, town, params, field):
    query = {"lat": FRANKFURT[0], "lon": FRANKFURT[1], **params}
    response = client.get("/api/v1/shops", query_string=query)
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert response.json["error"]["message"]


def test_repeated_single_parameter_is_refused(client):
    response = client.get("/api/v1/shops?lat=1&lat=2&lon=3")
    assert response.status_code == 400 and response.json["error"]["field"] == "lat"


def test_missing_location_is_refused(client):
    response = client.get("/api/v1/shops")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "missing_location"


@pytest.mark.parametrize("params, code", [
    ({"brand": "tesla"}, "unknown_brand"), ({"model": "byd-nope"}, "unknown_model"),
    ({"service": "massage"}, "unknown_service"), ({"part": "NOPE-1"}, "unknown_part"),
])
def test_unknown_names_answer_422(client, town, params, code):
    response = client.get("/api/v1/shops", query_string={"lat": 50, "lon": 8, **params})
    assert response.status_code == 422 and response.json["error"]["code"] == code


def test_catalog_lists(client, town):
    assert [b["brand"] for b in client.get("/api/v1/brands").json["results"]] == ["byd", "mg"]
    models = client.get("/api/v1/models?brand=byd").json["results"]
    assert [m["model"] for m in models] == ["byd-seal"]
    assert client.get("/api/v1/models?brand=zzz").status_code == 422
    assert client.get("/api/v1/services").status_code == 200


def test_search_is_rate_limited_with_retry_after(make_app, town):
    app = make_app(SEARCH_RATE_LIMIT="2 per minute")
    client = app.test_client()
    for _ in range(2):
        assert client.get("/api/v1/shops?lat=50&lon=8").status_code == 200
    response = client.get("/api/v1/shops?lat=50&lon=8")
    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0



def test_near_a_place_in_another_script(client, town):
    body = client.get("/api/v1/shops", query_string={"near": "ميونخ", "radius_km": 5}).json
    assert body["query"]["place"] == "Munich, DE"
    assert names(body) == ["Munich"]


def test_near_accepts_lat_lon_text(client, town):
    body = client.get("/api/v1/shops", query_string={"near": "50.1109, 8.6821"}).json
    assert body["query"]["place"] is None and body["total"] == 4


def test_country_disambiguates_a_place(client):
    us = client.get("/api/v1/shops", query_string={"near": "Paris", "country": "US"}).json
    fr = client.get("/api/v1/shops", query_string={"near": "Paris"}).json
    assert fr["query"]["place"] == "Paris, FR" and us["query"]["place"].endswith(", US")


def test_unknown_place_answers_422_with_suggestions(client):
    response = client.get("/api/v1/shops", query_string={"near": "Frnakfurt"})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "unknown_place" and error["field"] == "near"
    assert "Frankfurt am Main, DE" in [d["label"] for d in error["details"]]


def test_places_autocompletion(client):
    results = client.get("/api/v1/places", query_string={"q": "frank"}).json["results"]
    assert results[0]["label"] == "Frankfurt am Main, DE" and len(results) <= 10
    assert client.get("/api/v1/places", query_string={"q": ""}).json["results"] == []
    assert client.get("/api/v1/places").status_code == 400
