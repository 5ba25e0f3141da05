"""Admin pages for shops: find, add one to an organisation with the import's checks,
deactivate and reactivate with a version, merge a duplicate (stock, cases and evidence move,
the duplicate leaves the search); each write audited once, other roles refused."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlmodel import select

from service_portal.audit.models import AuditEntry
from service_portal.cases.models import Case, CaseEvent
from service_portal.credentials.models import Credential
from service_portal.parts.models import Stock
from service_portal.shops.models import Shop, ShopBrand
from tests.helpers import changed_tables, csrf_token, sign_in, table_snapshot

PASSWORD = "correct horse battery"
NEAR = "/api/v1/shops?lat=50.11&lon=8.68&radius_km=20"


@pytest.fixture
def people(make):
    org = make.org("nord-motors")
    return {"org": org,
            "admin": make.user("admin", email="admin@example.test", password=PASSWORD),
            "dealer": make.user("dealer", org=org, email="dealer@example.test",
                                password=PASSWORD),
            "staff": make.user("staff", email="staff@example.test", password=PASSWORD)}


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    sign_in(client, "admin@example.test", PASSWORD)
    return client


def _post(client, page_url, url, data=None):
    token = csrf_token(client.get(page_url).text)
    return client.post(url, data={"csrf_token": token, **(data or {})})


def _audit(session, action):
    session.rollback()
    session.expire_all()
    return session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()


def _found(client, shop_id) -> bool:
    response = client.get(NEAR)
    assert response.status_code == 200, response.text
    return shop_id in [r["id"] for r in response.json["results"]]


def _shop_form(org_id, **overrides):
    return {"organization": str(org_id), "external_id": "nm-kassel-2", "name": "NM Kassel",
            "brand-byd": "authorized", "services": ["hv-battery"], "languages": "de, en",
            "address": "Hafenstraße 1", "city": "Frankfurt am Main", "postal_code": "60311",
            "country": "DE", "lat": "50.111", "lon": "8.682", "timezone": "",
            "phone": "069 1234567", "email": "kassel@nm.example",
            "website": "https://nm.example", "opening_hours": "Mo-Fr 08:00-18:00",
            "hv_level": "2S", "hv_valid_until": "2027-06-30"} | overrides


@pytest.mark.parametrize("role", ["dealer", "staff"])
def test_other_roles_get_403_on_every_shop_route(app, make, people, role):
    shop = make.shop(people["org"])
    client = app.test_client()
    sign_in(client, f"{role}@example.test", PASSWORD)
    token = csrf_token(client.get("/help").text)
    for method, url in [("GET", "/admin/shops"), ("GET", "/admin/shops/new"),
                        ("POST", "/admin/shops/new"), ("GET", f"/admin/shops/{shop.id}"),
                        ("POST", f"/admin/shops/{shop.id}/deactivate"),
                        ("POST", f"/admin/shops/{shop.id}/activate"),
                        ("POST", f"/admin/shops/{shop.id}/merge")]:
        data = {"csrf_token": token, "version": "1"} if method == "POST" else None
        assert client.open(url, method=method, data=data).status_code == 403, (method, url)


def test_a_new_shop_is_in_the_search_at_once(app, make, people, admin, session):
    make.brand("byd", name="BYD")
    make.service("hv-battery")
    page = admin.get(f"/admin/shops/new?organization={people['org'].id}")
    assert page.status_code == 200
    assert re.search(rf'<option selected value="{people["org"].id}">', page.text)
    response = _post(admin, "/admin/shops/new", "/admin/shops/new",
                     _shop_form(people["org"].id))
    assert response.status_code == 303, response.text
    session.rollback()
    session.expire_all()
    shop = session.exec(select(Shop).where(Shop.external_id == "nm-kassel-2")).one()
    assert (shop.organization_id, shop.phone, shop.timezone) == (
        people["org"].id, "+49691234567", "Europe/Berlin")
    assert session.exec(select(ShopBrand.level).where(ShopBrand.shop_id == shop.id)).all() \
        == ["authorized"]
    assert _found(app.test_client(), shop.id)
    assert "NM Kassel" in admin.get(response.location).text
    entries = _audit(session, "shop.create")
    assert len(entries) == 1 and entries[0].actor_id == people["admin"].id


def test_bad_shop_fields_are_named_and_store_nothing(app, make, people, admin):
    make.brand("byd", name="BYD")
    make.shop(people["org"], external_id="taken-1")
    engine = app.extensions["service_portal.engine"]
    before = table_snapshot(engine)
    response = _post(admin, "/admin/shops/new", "/admin/shops/new", _shop_form(
        people["org"].id, lat="north", **{"brand-byd": "sovereign"}, services=[],
        opening_hours="whenever"))
    assert response.status_code == 422
    assert "Unknown authorisation level: sovereign" in response.text
    assert "Not valid OpenStreetMap opening hours" in response.text
    taken = _post(admin, "/admin/shops/new", "/admin/shops/new",
                  _shop_form(people["org"].id, external_id="taken-1", services=[]))
    assert taken.status_code == 422 and "Another shop has the external id taken-1" in taken.text
    assert changed_tables(before, table_snapshot(engine)) == []


def test_deactivating_a_shop_needs_its_version_and_hides_it(app, make, people, admin,
                                                            session):
    shop = make.shop(people["org"])
    url = f"/admin/shops/{shop.id}"
    assert _post(admin, url, url + "/deactivate", {"version": "1"}).status_code == 303
    assert not _found(app.test_client(), shop.id)
    stale = _post(admin, url, url + "/activate", {"version": "1"})
    assert stale.status_code == 409 and "changed by someone else meanwhile" in stale.text
    assert not _found(app.test_client(), shop.id)
    assert _post(admin, url, url + "/activate", {"version": "2"}).status_code == 303
    assert _found(app.test_client(), shop.id)
    for action in ("shop.deactivate", "shop.activate"):
        entries = _audit(session, action)
        assert len(entries) == 1 and entries[0].actor_id == people["admin"].id


def _credential(session, shop):
    row = Credential(shop_id=shop.id, kind="hv", hv_level="2S", valid_until=date(2027, 1, 1),
                     technician="A. Tech", issuer="DGUV", file_key="k1", file_name="c.pdf",
                     content_type="application/pdf", size=10, sha256="0" * 64,
                     uploaded_by="dealer@example.test (web)")
    session.add(row)
    session.commit()
    return row


def test_merging_a_duplicate_moves_stock_cases_and_evidence(app, make, people, admin,
                                                            session):
    byd = make.brand("byd", name="BYD")
    make.model(byd, "byd-atto-3", name="Atto 3")
    make.service("hv-battery")
    kept = make.shop(people["org"], name="NM Frankfurt")
    duplicate = make.shop(people["org"], name="NM Frankfurt (copy)", lat=50.111)
    only_there, both = make.part(byd, "P-ONLY"), make.part(byd, "P-BOTH")
    make.stock(duplicate, only_there, qty=4)
    make.stock(duplicate, both, qty=9)
    make.stock(kept, both, qty=2)
    opened = app.test_client().post("/api/v1/cases", json={
        "name": "Ola Example", "email": "ola@example.test", "country": "DE",
        "model": "byd-atto-3", "service": "hv-battery", "shop_id": duplicate.id,
        "description": "No charge.", "consent": True})
    assert opened.status_code == 201, opened.json
    _credential(session, duplicate)
    assert _found(app.test_client(), duplicate.id)

    url = f"/admin/shops/{duplicate.id}"
    response = _post(admin, url, url + "/merge", {"kept": str(kept.id), "version": "1"})
    assert response.status_code == 303
    assert response.location.endswith(f"/admin/shops/{kept.id}")
    assert "1 stock lines, 1 cases, 1 pieces of evidence" in admin.get(response.location).text

    session.rollback()
    session.expire_all()
    stock = {(s.shop_id, s.part_id): s.qty for s in session.exec(select(Stock)).all()}
    assert stock == {(kept.id, only_there.id): 4, (kept.id, both.id): 2}
    case = session.exec(select(Case)).one()
    assert case.shop_id == kept.id and case.version == 2
    event = session.exec(select(CaseEvent).where(CaseEvent.kind == "changed")).one()
    assert (event.before, event.after) == ({"shop_id": duplicate.id}, {"shop_id": kept.id})
    assert session.exec(select(Credential.shop_id)).all() == [kept.id]
    assert not session.get(Shop, duplicate.id).active
    assert not _found(app.test_client(), duplicate.id) and _found(app.test_client(), kept.id)
    holders = app.test_client().get(NEAR + "&part=P-ONLY").json["results"]
    assert [r["id"] for r in holders] == [kept.id]

    entries = _audit(session, "shop.merge")
    assert len(entries) == 1 and entries[0].actor_id == people["admin"].id
    assert entries[0].after["stock_moved"] == 1 and entries[0].after["stock_dropped"] == 1
    history = {(e.entity_id, e.before is None, e.after is None)
               for e in _audit(session, "stock.merge")}
    assert history == {(f"{duplicate.id}:P-ONLY", False, True),
                       (f"{kept.id}:P-ONLY", True, False),
                       (f"{duplicate.id}:P-BOTH", False, True)}


def test_shops_of_two_organisations_are_not_merged(app, make, people, admin):
    duplicate = make.shop(people["org"])
    stranger = make.shop(make.org("sued-cars"))
    engine = app.extensions["service_portal.engine"]
    before = table_snapshot(engine)
    url = f"/admin/shops/{duplicate.id}"
    response = _post(admin, url, url + "/merge", {"kept": str(stranger.id), "version": "1"})
    assert response.status_code == 422
    assert "Only shops of the same organisation can be merged." in response.text
    assert _post(admin, url, url + "/merge", {"kept": str(duplicate.id),
                                              "version": "1"}).status_code == 422
    assert changed_tables(before, table_snapshot(engine)) == []


def test_the_shop_list_searches_filters_and_sorts(app, make, people, admin):
    other = make.org("sued-cars")
    make.shop(people["org"], name="Alpha Garage", city="Kassel", external_id="a-1")
    make.shop(other, name="Beta Service", city="Wien", country="AT", external_id="b-1",
              timezone="Europe/Vienna")
    make.shop(other, name="Gamma Motors", city="Linz", country="AT", external_id="g-1",
              timezone="Europe/Vienna", active=False)

    def names(query):
        page = admin.get("/admin/shops" + query)
        assert page.status_code == 200, query
        return re.findall(r'/admin/shops/\d+"><bdi>([^<]+)</bdi>', page.text)

    assert names("") == ["Alpha Garage", "Beta Service", "Gamma Motors"]
    assert names("?sort=-name") == ["Gamma Motors", "Beta Service", "Alpha Garage"]
    assert names("?q=wien") == ["Beta Service"] and names("?q=G-1") == ["Gamma Motors"]
    assert names(f"?organization={other.id}&state=active") == ["Beta Service"]
    assert names("?country=AT&sort=city") == ["Gamma Motors", "Beta Service"]
    for bad in ("organization=x", "state=gone", "sort=lat", "country=ZZ", "offset=1e3"):
        assert admin.get(f"/admin/shops?{bad}").status_code == 400, bad
