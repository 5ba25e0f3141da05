"""The dealer API: bearer tokens, own shops only, atomic and optimistic stock writes."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from service_portal.audit.models import AuditEntry
from service_portal.parts.models import Stock


@pytest.fixture
def world(make, session):
    """Two organisations, each with a dealer, a token and a shop with stock."""
    byd = make.brand("byd")
    old = make.part(byd, "BYD-OLD")
    make.part(byd, "BYD-NEW")
    out = {}
    for name in ("alpha", "beta"):
        org = make.org(name)
        shop = make.shop(org, external_id=f"{name}-1", name=f"{name.title()} Shop")
        make.stock(shop, old, qty=10)
        dealer = make.user("dealer", org)
        out[name] = {"org": org, "shop": shop, "token": make.token(dealer)}
    out["staff_token"] = make.token(make.user("staff"))
    return out


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def qty(session, shop) -> int:
    session.rollback()
    return session.scalars(select(Stock.qty).where(Stock.shop_id == shop.id)).first()


def test_no_or_bad_token_is_401(client, world):
    shop = world["alpha"]["shop"]
    assert client.get("/api/v1/dealer/shops").status_code == 401
    response = client.get("/api/v1/dealer/shops", headers=auth("spt_not-a-token"))
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
    assert client.get(f"/api/v1/dealer/shops/{shop.id}/stock?access_token=x").status_code == 401


def test_staff_token_is_403_on_dealer_routes(client, world):
    assert client.get("/api/v1/dealer/shops", headers=auth(world["staff_token"])) \
        .status_code == 403


def test_dealer_lists_only_own_shops(client, world):
    body = client.get("/api/v1/dealer/shops", headers=auth(world["alpha"]["token"])).json
    assert [s["name"] for s in body["results"]] == ["Alpha Shop"]


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/stock", None),
    ("PUT", "/stock", {"items": [], "mode": "replace"}),
    ("PATCH", "/stock/BYD-OLD", {"qty_delta": -1}),
    ("PATCH", "/stock/BYD-OLD", {"qty": 0, "version": 1}),
])
def test_another_organisations_shop_is_404_and_unchanged(client, world, session, method, path,
                                                          body):
    beta_shop = world["beta"]["shop"]
    response = client.open(f"/api/v1/dealer/shops/{beta_shop.id}{path}", method=method,
                           json=body, headers=auth(world["alpha"]["token"]))
    assert response.status_code == 404
    assert qty(session, beta_shop) == 10


def test_import_into_another_organisations_shop_is_404(client, world, session):
    beta_shop = world["beta"]["shop"]
    data = {"file": (io.BytesIO(b"part_number,qty,price,currency\nBYD-OLD,0,1,EUR\n"), "s.csv")}
    response = client.post(f"/api/v1/dealer/shops/{beta_shop.id}/stock/import", data=data,
                           headers=auth(world["alpha"]["token"]),
                           content_type="multipart/form-data")
    assert response.status_code == 404 and qty(session, beta_shop) == 10


def test_import_naming_another_organisations_shop_changes_nothing(client, world, session):
    alpha_shop, beta_shop = world["alpha"]["shop"], world["beta"]["shop"]
    csv = b"shop_external_id,part_number,qty,price,currency\nalpha-1,BYD-OLD,1,1,EUR\n" \
          b"beta-1,BYD-OLD,0,1,EUR\n"
    response = client.post(f"/api/v1/dealer/shops/{alpha_shop.id}/stock/import",
                           data={"file": (io.BytesIO(csv), "s.csv")},
                           headers=auth(world["alpha"]["token"]),
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["column"] == "shop_external_id"
    assert qty(session, alpha_shop) == 10 and qty(session, beta_shop) == 10


def test_qty_delta_is_atomic_and_refuses_negative(client, world, session):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    url = f"/api/v1/dealer/shops/{shop.id}/stock/BYD-OLD"
    response = client.patch(url, json={"qty_delta": -4}, headers=auth(token))
    assert response.status_code == 200
    assert (response.json["qty"], response.json["version"]) == (6, 2)
    response = client.patch(url, json={"qty_delta": -7}, headers=auth(token))
    assert response.status_code == 409 and response.json["error"]["code"] == "insufficient_stock"
    assert qty(session, shop) == 6


def test_qty_with_a_stale_version_is_409(client, world, session):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    url = f"/api/v1/dealer/shops/{shop.id}/stock/BYD-OLD"
    assert client.patch(url, json={"qty": 3, "version": 1}, headers=auth(token)).json["qty"] == 3
    stale = client.patch(url, json={"qty": 8, "version": 1}, headers=auth(token))
    assert stale.status_code == 409 and stale.json["error"]["code"] == "version_conflict"
    assert qty(session, shop) == 3


def test_every_stock_change_is_audited_with_the_token(client, world, session):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    client.patch(f"/api/v1/dealer/shops/{shop.id}/stock/BYD-OLD", json={"qty_delta": -1},
                 headers=auth(token))
    session.rollback()
    entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "stock.adjust" and "(token test)" in entry.actor_label
    assert (entry.before["qty"], entry.after["qty"]) == (10, 9)


def test_put_merge_and_replace(client, world, session):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    url = f"/api/v1/dealer/shops/{shop.id}/stock"
    merged = client.put(url, headers=auth(token), json={"items": [
        {"part_number": "BYD-NEW", "qty": 2, "price": "49.90", "currency": "EUR"}]})
    assert merged.json == {"created": 1, "updated": 0, "deleted": 0}
    replaced = client.put(url, headers=auth(token), json={"mode": "replace", "items": [
        {"part_number": "byd-new", "qty": 5, "price": 49.9, "currency": "eur"}]})
    assert replaced.json == {"created": 0, "updated": 1, "deleted": 1}
    listed = client.get(url, headers=auth(token)).json["results"]
    assert [(r["part_number"], r["qty"], r["price"]) for r in listed] == [("BYD-NEW", 5,
                                                                           "49.90")]


@pytest.mark.parametrize("body, field", [
    ({"items": [{"part_number": "BYD-NEW", "qty": -1, "price": "1", "currency": "EUR"}]},
     "items.0.qty"),
    ({"items": [{"part_number": "BYD-NEW", "qty": 1.5, "price": "1", "currency": "EUR"}]},
     "items.0.qty"),
    ({"items": [{"part_number": "BYD-NEW", "qty": True, "price": "1", "currency": "EUR"}]},
     "items.0.qty"),
    ({"items": [{"part_number": "BYD-NEW", "qty": 1, "price": "1", "currency": "EURO"}]},
     "items.0.currency"),
    ({"items": [{"part_number": "BYD-NEW", "qty": 1, "price": "1", "currency": "EUR",
                 "shop_id": 99}]}, "items.0.shop_id"),
    ({"items": [], "owner": "x"}, "owner"),
])
def test_invalid_or_unknown_fields_are_422_and_change_nothing(client, world, session, body,
                                                               field):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    response = client.put(f"/api/v1/dealer/shops/{shop.id}/stock", json=body,
                          headers=auth(token))
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json["error"]["details"]]
    assert qty(session, shop) == 10


def test_json_writes_need_the_json_content_type(client, world):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    response = client.put(f"/api/v1/dealer/shops/{shop.id}/stock", data='{"items": []}',
                          content_type="text/plain", headers=auth(token))
    assert response.status_code == 415


def test_nan_and_deep_json_are_refused(client, world):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    url = f"/api/v1/dealer/shops/{shop.id}/stock/BYD-OLD"
    for raw in ('{"qty_delta": NaN}', '{"a":' * 50 + "1" + "}" * 50):
        response = client.patch(url, data=raw, content_type="application/json",
                                headers=auth(token))
        assert response.status_code == 400


def test_import_with_a_bad_row_changes_nothing(client, world, session):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    csv = b"part_number,qty,price,currency\nBYD-OLD,1,1,EUR\nNOPE,1,1,EUR\n"
    response = client.post(f"/api/v1/dealer/shops/{shop.id}/stock/import",
                           data={"file": (io.BytesIO(csv), "s.csv")}, headers=auth(token),
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.json["error"]["details"] == [
        {"row": 3, "column": "part_number", "message": "Unknown part number: NOPE"}]
    assert qty(session, shop) == 10


def test_import_dry_run_then_commit(client, world, session):
    shop, token = world["alpha"]["shop"], world["alpha"]["token"]
    csv = b"part_number;qty;price;currency\nBYD-OLD;2;1,50;EUR\n"
    url = f"/api/v1/dealer/shops/{shop.id}/stock/import"
    dry = client.post(url + "?dry_run=true", data={"file": (io.BytesIO(csv), "s.csv")},
                      headers=auth(token), content_type="multipart/form-data")
    assert dry.status_code == 200 and dry.json["updated"] == 1 and dry.json["dry_run"]
    assert qty(session, shop) == 10
    done = client.post(url, data={"file": (io.BytesIO(csv), "s.csv")}, headers=auth(token),
                       content_type="multipart/form-data")
    assert done.status_code == 200 and qty(session, shop) == 2


def test_revoked_token_is_401(client, world, session):
    from datetime import UTC, datetime

    from service_portal.users.models import ApiToken

    for row in session.scalars(select(ApiToken)):
        row.revoked_at = datetime.now(UTC)
    session.commit()
    assert client.get("/api/v1/dealer/shops", headers=auth(world["alpha"]["token"])) \
        .status_code == 401


def test_failed_token_attempts_are_rate_limited(make_app, world):
    client = make_app(TOKEN_FAILURE_LIMIT="3 per minute").test_client()
    for _ in range(3):
        assert client.get("/api/v1/dealer/shops", headers=auth("spt_bad")).status_code == 401
    response = client.get("/api/v1/dealer/shops", headers=auth("spt_bad"))
    assert response.status_code == 429 and "Retry-After" in response.headers
