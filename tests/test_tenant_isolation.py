"""Tenant isolation, walked from the app's own routes: every dealer page and API route that
names a shop or a case is called with another organisation's ids, by every method it
serves, with a body that would change something; each answers 404 and nothing stored
changes. A new dealer route is covered the day it is added."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from service_portal.models import metadata
from tests.test_cases_api import open_case
from tests.test_dealer_pages import PASSWORD, csrf, sign_in

# Tables a request may touch without changing any tenant's data: the signed-in session's
# last-seen time.
IGNORED_TABLES = {"user_sessions"}
#: Columns likewise: when a token was last used.
IGNORED_COLUMNS = {"api_tokens": {"last_used_at"}}
CSV = b"part_number,qty,price,currency\nBYD-OLD,0,1.00,EUR\n"


@pytest.fixture
def world(make, client):
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    part = make.part(byd, "BYD-OLD")
    service = make.service("hv-battery")
    shops, orgs = {}, {}
    for name in ("alpha", "beta"):
        org = orgs[name] = make.org(name)
        shops[name] = make.shop(org, external_id=f"{name}-1", name=f"{name.title()} Shop",
                                brands=[(byd, "authorized")], services=[service])
        make.stock(shops[name], part, qty=10)
        make.user("dealer", org, email=f"{name}@dealer.example", password=PASSWORD)
    alpha_token = make.token(make.user("dealer", orgs["alpha"], email="api@alpha.example"))
    staff = make.token(make.user("staff"))
    reference = open_case(client)
    for version, body in ((1, {"status": "triaged"}),
                          (2, {"status": "assigned", "shop_id": shops["beta"].id})):
        client.patch(f"/api/v1/cases/{reference}", json={"version": version, **body},
                     headers={"Authorization": f"Bearer {staff}"})
    return {"alpha_shop": shops["alpha"], "beta_shop": shops["beta"], "beta_case": reference,
            "alpha_token": alpha_token}


def dealer_rules(app) -> list:
    return [rule for rule in app.url_map.iter_rules()
            if rule.rule.startswith(("/dealer/", "/api/v1/dealer/"))
            and ({"shop_id", "reference"} & set(rule.arguments))]


def fill(rule, world) -> str:
    values = {"shop_id": world["beta_shop"].id, "reference": world["beta_case"],
              "part_number": "BYD-OLD", "token": "x" * 43, "kind": "csv"}
    return rule.build({name: values.get(name, "1") for name in rule.arguments},
                      append_unknown=False)[1]


def snapshot(database_url: str) -> dict[str, list]:
    from service_portal.db import make_engine

    engine = make_engine(database_url)
    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in IGNORED_TABLES:
                continue
            columns = [c for c in table.columns
                       if c.name not in IGNORED_COLUMNS.get(table.name, ())]
            out[table.name] = sorted(map(repr, conn.execute(select(*columns))))
    engine.dispose()
    return out


def test_every_dealer_route_hides_another_organisations_shops_and_cases(app, client, world,
                                                                        database_url):
    rules = dealer_rules(app)
    paths = {rule.rule for rule in rules}
    # The walk really covers the shop pages, the stock API and the case pages.
    assert {"/dealer/shops/<id:shop_id>/profile", "/api/v1/dealer/shops/<id:shop_id>/stock",
            "/dealer/cases/<reference>"} <= paths, paths
    sign_in(client, "alpha@dealer.example")
    token = csrf(client.get("/dealer/").data)
    api = {"Authorization": f"Bearer {world['alpha_token']}"}
    before = snapshot(database_url)
    calls = 0
    for rule in rules:
        url = fill(rule, world)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.rule.startswith("/api/"):
                if "import" in rule.rule:
                    response = client.open(url, method=method, headers=api, data={
                        "file": (io.BytesIO(CSV), "stock.csv")},
                        content_type="multipart/form-data")
                else:
                    body = {"PUT": {"items": [], "mode": "replace"},
                            "PATCH": {"qty_delta": -1}}.get(method)
                    response = client.open(url, method=method, headers=api, json=body)
            else:
                data = {"csrf_token": token, "qty": "0", "min_qty": "0", "version": "1",
                        "name": "Taken", "hv_level": "none", "action": "save",
                        "status": "in_repair", "body": "Taken over",
                        "file": (io.BytesIO(CSV), "stock.csv")}
                response = client.open(url, method=method, data=data,
                                       content_type="multipart/form-data")
            calls += 1
            assert response.status_code == 404, (method, url, response.status_code)
            assert b"Beta Shop" not in response.data, (method, url)
    assert calls >= 12
    assert snapshot(database_url) == before
    # The same session and token reach their own organisation's shop: the 404s above are
    # isolation, not a broken sign-in.
    own = world["alpha_shop"].id
    assert client.get(f"/dealer/shops/{own}/profile").status_code == 200
    assert client.get(f"/api/v1/dealer/shops/{own}/stock", headers=api).status_code == 200


def test_dealer_listings_show_only_their_own_organisation(app, client, world):
    sign_in(client, "alpha@dealer.example")
    for path in ("/dealer/", "/dealer/cases"):
        page = client.get(path)
        assert page.status_code == 200 and "Beta Shop" not in page.text
        assert world["beta_case"] not in page.text
    assert re.search(r"Alpha Shop", client.get("/dealer/").text)
