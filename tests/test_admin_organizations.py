"""Admin pages for organisations: find, create (slug from the name, unique), rename with a
version, deactivate and reactivate (its shops leave the search at once, its people are
refused), each audited once with the admin as actor and refused to other roles."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from service_portal.audit.models import AuditEntry
from service_portal.shops.models import Organization
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


def _client(app, email):
    client = app.test_client()
    sign_in(client, email, PASSWORD)
    return client


def _post(client, page_url, url, data=None):
    token = csrf_token(client.get(page_url).text)
    return client.post(url, data={"csrf_token": token, **(data or {})})


def _audit(session, action):
    session.rollback()
    session.expire_all()
    return session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()


def _org(session, slug):
    session.rollback()
    session.expire_all()
    return session.exec(select(Organization).where(Organization.slug == slug)).first()


def _found(client, shop_id) -> bool:
    response = client.get(NEAR)
    assert response.status_code == 200, response.text
    return shop_id in [r["id"] for r in response.json["results"]]


ROUTES = [("GET", "/admin/organizations"), ("GET", "/admin/organizations/new"),
          ("POST", "/admin/organizations/new"), ("GET", "/admin/organizations/{org}"),
          ("POST", "/admin/organizations/{org}/rename"),
          ("POST", "/admin/organizations/{org}/deactivate"),
          ("POST", "/admin/organizations/{org}/activate")]


@pytest.mark.parametrize("role", ["dealer", "staff"])
def test_other_roles_get_403_on_every_organisation_route(app, people, role):
    client = _client(app, f"{role}@example.test")
    token = csrf_token(client.get("/help").text)
    for method, pattern in ROUTES:
        url = pattern.format(org=people["org"].id)
        data = {"csrf_token": token, "name": "Taken", "version": "1"} if method == "POST" \
            else None
        assert client.open(url, method=method, data=data).status_code == 403, (method, url)
    assert app.test_client().get("/admin/organizations").status_code in (302, 401)


def test_create_makes_the_slug_from_the_name_and_is_audited(app, people, session):
    admin = _client(app, "admin@example.test")
    response = _post(admin, "/admin/organizations/new", "/admin/organizations/new",
                     {"name": "Süd Motors GmbH & Co.", "slug": "", "country": "AT"})
    assert response.status_code == 303
    org = _org(session, "sud-motors-gmbh-co")
    assert org is not None and org.name == "Süd Motors GmbH & Co." and org.country == "AT"
    assert response.location.endswith(f"/admin/organizations/{org.id}")
    page = admin.get(response.location).text
    assert "sud-motors-gmbh-co" in page and "Austria" in page
    entries = _audit(session, "organization.create")
    assert len(entries) == 1 and entries[0].actor_id == people["admin"].id
    assert entries[0].actor_label.startswith("admin@example.test")


def test_a_taken_slug_is_a_clear_error_and_stores_nothing(app, people, session):
    admin = _client(app, "admin@example.test")
    engine = app.extensions["service_portal.engine"]
    before = table_snapshot(engine)
    response = _post(admin, "/admin/organizations/new", "/admin/organizations/new",
                     {"name": "Nord Motors", "slug": "", "country": ""})
    assert response.status_code == 422
    assert "The slug nord-motors is taken by another organisation" in response.text
    response = _post(admin, "/admin/organizations/new", "/admin/organizations/new",
                     {"name": "Nord", "slug": "Not A Slug", "country": ""})
    assert response.status_code == 422 and "Not a slug" in response.text
    response = _post(admin, "/admin/organizations/new", "/admin/organizations/new",
                     {"name": "★ ★", "slug": "", "country": ""})
    assert response.status_code == 422 and "type one" in response.text
    assert changed_tables(before, table_snapshot(engine)) == []


def test_rename_needs_the_current_version(app, people, session):
    admin = _client(app, "admin@example.test")
    url = f"/admin/organizations/{people['org'].id}"
    response = _post(admin, url, url + "/rename", {"name": "Nord Motors AG", "version": "1"})
    assert response.status_code == 303
    assert _org(session, "nord-motors").name == "Nord Motors AG"
    stale = _post(admin, url, url + "/rename", {"name": "Someone Else", "version": "1"})
    assert stale.status_code == 409
    assert "changed by someone else meanwhile" in stale.text
    assert _org(session, "nord-motors").name == "Nord Motors AG"
    entries = _audit(session, "organization.rename")
    assert len(entries) == 1 and entries[0].actor_id == people["admin"].id
    assert (entries[0].before, entries[0].after) == ({"name": "Nord-Motors"},
                                                     {"name": "Nord Motors AG"})


def test_deactivating_hides_the_shops_and_refuses_the_people_until_reactivated(
        app, make_app, make, people, session):
    org = people["org"]
    shop = make.shop(org, lat=50.11, lon=8.68)
    parked = make.shop(org, lat=50.12, lon=8.68, active=False)  # inactive on its own
    dealer_token = make.token(people["dealer"])
    other_worker = make_app().test_client()  # a second process with its own index
    bearer = {"Authorization": f"Bearer {dealer_token}"}
    dealer = _client(app, "dealer@example.test")
    assert _found(app.test_client(), shop.id) and _found(other_worker, shop.id)
    assert app.test_client().get("/api/v1/dealer/shops", headers=bearer).status_code == 200

    admin = _client(app, "admin@example.test")
    url = f"/admin/organizations/{org.id}"
    response = _post(admin, url, url + "/deactivate", {"version": "1"})
    assert response.status_code == 303
    assert "1 shop left the search" in admin.get(response.location).text

    assert not _found(app.test_client(), shop.id) and not _found(other_worker, shop.id)
    assert other_worker.get(f"/api/v1/shops/{shop.id}").status_code == 404
    assert other_worker.get(f"/shops/{shop.id}").status_code == 404
    assert app.test_client().get("/api/v1/dealer/shops", headers=bearer).status_code == 401
    assert dealer.get("/dealer/").status_code in (302, 401)  # the open session ended
    login = app.test_client()
    refused = login.post("/login", data={"csrf_token": csrf_token(login.get("/login").text),
                                         "email": "dealer@example.test",
                                         "password": PASSWORD, "next": ""})
    assert refused.status_code != 302 and login.get("/account/tokens").status_code != 200
    entries = _audit(session, "organization.deactivate")
    assert len(entries) == 1 and entries[0].actor_id == people["admin"].id
    assert entries[0].after == {"active": False, "shops": 1, "sessions_ended": 1}

    assert _post(admin, url, url + "/activate", {"version": "1"}).status_code == 409
    assert _post(admin, url, url + "/activate", {"version": "2"}).status_code == 303
    assert _found(app.test_client(), shop.id) and _found(other_worker, shop.id)
    assert not _found(other_worker, parked.id)  # it was inactive before: it stays so
    assert app.test_client().get("/api/v1/dealer/shops", headers=bearer).status_code == 200
    sign_in(app.test_client(), "dealer@example.test", PASSWORD)
    assert len(_audit(session, "organization.activate")) == 1


def test_the_organisation_page_lists_shops_and_people_and_invites_into_it(app, make, people):
    shop = make.shop(people["org"], name="Nord Motors Kassel")
    admin = _client(app, "admin@example.test")
    page = admin.get(f"/admin/organizations/{people['org'].id}").text
    assert "Nord Motors Kassel" in page and f"/admin/shops/{shop.id}" in page
    assert f"/admin/users/{people['dealer'].id}" in page
    invite = re.search(r'href="(/admin/users/invite\?organization=[^"]+)"', page).group(1)
    form = admin.get(invite).text
    assert re.search(r'<option selected value="nord-motors">|'
                     r'<option value="nord-motors" selected>', form)


def test_the_organisation_list_searches_filters_and_sorts(app, make, people, session):
    other = make.org("sued-cars")
    other.active = False
    other.country = "AT"
    session.add(other)
    session.commit()
    make.shop(other)
    make.shop(other)
    admin = _client(app, "admin@example.test")

    def names(query):
        page = admin.get("/admin/organizations" + query)
        assert page.status_code == 200
        return re.findall(r'/admin/organizations/\d+"><bdi>([^<]+)</bdi>', page.text)

    assert names("") == ["Nord-Motors", "Sued-Cars"]
    assert names("?sort=-shops") == ["Sued-Cars", "Nord-Motors"]
    assert names("?q=SUED") == ["Sued-Cars"]
    assert names("?state=inactive") == ["Sued-Cars"]
    assert names("?country=de") == ["Nord-Motors"]
    assert names("?q=%25") == []


@pytest.mark.parametrize("query", ["state=gone", "sort=slug", "offset=-1", "country=XX",
                                   "colour=red"])
def test_a_bad_list_parameter_is_a_clear_400(app, people, query):
    response = _client(app, "admin@example.test").get(f"/admin/organizations?{query}")
    assert response.status_code == 400
