"""Admin pages for brands, models, services and WMI codes: lists, versioned edits with
translated names, refused input that changes nothing, audit entries, admins only; and a
new row is usable at once (search filters, the search index, names in the reader's
language, the VIN decoder)."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from service_portal.audit.models import AuditEntry
from service_portal.catalog.models import Brand, Service, VehicleModel, WmiCode
from tests.helpers import csrf_token, sign_in, table_snapshot

PASSWORD = "correct horse battery"


@pytest.fixture
def people(make):
    org = make.org("nord-motors")
    byd = make.brand("byd", name="BYD", parent_group="BYD Company")
    make.model(byd, "byd-seal", name="Seal", year_from=2023, powertrain="bev")
    make.model(byd, "byd-seal-u-dm-i", name="Seal U DM-i", year_from=2024, powertrain="phev")
    make.brand("nio", name="NIO")
    make.service("tyres")
    make.session.add(WmiCode(code="LGX", brands=["byd"], source="https://example.test/wmi"))
    make.session.commit()
    return {"admin": make.user("admin", email="admin@example.test", password=PASSWORD),
            "dealer": make.user("dealer", org=org, email="dealer@example.test",
                                password=PASSWORD),
            "staff": make.user("staff", email="staff@example.test", password=PASSWORD)}


def _client(app, email="admin@example.test"):
    client = app.test_client()
    sign_in(client, email, PASSWORD)
    return client


def _post(client, path, data):
    """POST the form at `path` as a browser would: with the CSRF token of its page."""
    page = client.get(path)
    token = csrf_token(page.text) if page.status_code == 200 else csrf_token(
        client.get("/help").text)
    return client.post(path, data={"csrf_token": token, **data})


def _audit(session, action):
    session.rollback()
    return session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()


def _brand_form(**changes):
    return {"slug": "leapmotor", "name": "Leapmotor", "parent_group": "", "website": "",
            **changes}


def _model_form(**changes):
    return {"slug": "byd-sealion-7", "brand": "byd", "name": "Sealion 7", "year_from": "2025",
            "year_to": "", "powertrain": "bev", "battery_chemistry": "lfp", "body": "suv",
            **changes}


ROUTES = [("GET", "/admin/catalog"), ("GET", "/admin/catalog/models"),
          ("GET", "/admin/catalog/services"),
          ("GET", "/admin/catalog/brands/new"), ("POST", "/admin/catalog/brands/new"),
          ("GET", "/admin/catalog/brands/byd/edit"), ("POST", "/admin/catalog/brands/byd/edit"),
          ("GET", "/admin/catalog/models/new"), ("POST", "/admin/catalog/models/new"),
          ("GET", "/admin/catalog/models/byd-seal/edit"),
          ("POST", "/admin/catalog/models/byd-seal/edit"),
          ("GET", "/admin/catalog/services/new"), ("POST", "/admin/catalog/services/new"),
          ("GET", "/admin/catalog/services/tyres/edit"),
          ("POST", "/admin/catalog/services/tyres/edit"),
          ("GET", "/admin/wmi"), ("GET", "/admin/wmi/new"), ("POST", "/admin/wmi/new"),
          ("GET", "/admin/wmi/LGX"), ("POST", "/admin/wmi/LGX"),
          ("GET", "/admin/wmi/LGX/delete"), ("POST", "/admin/wmi/LGX/delete")]


@pytest.mark.parametrize("role", ["dealer", "staff"])
def test_dealers_and_staff_get_403_on_every_catalog_route(app, people, session, role):
    engine = app.extensions["service_portal.engine"]
    client = _client(app, f"{role}@example.test")
    token = csrf_token(client.get("/help").text)
    before = table_snapshot(engine)
    for method, path in ROUTES:
        data = {"csrf_token": token, **_brand_form(), "version": "1", "code": "LGY",
                "brands": "byd", "source": "x"} if method == "POST" else None
        response = client.open(path, method=method, data=data)
        assert response.status_code == 403, f"{method} {path} as {role}"
    assert table_snapshot(engine) == before
    assert app.test_client().get("/admin/catalog").status_code in (302, 401)


def test_the_brand_list_searches_sorts_and_counts_models(app, people):
    admin = _client(app)
    page = admin.get("/admin/catalog").text
    assert re.findall(r"/admin/catalog/brands/([a-z-]+)/edit", page) == ["byd", "nio"]
    assert re.search(r'href="/admin/catalog/models\?brand=byd">2<', page)
    assert re.findall(r"brands/([a-z-]+)/edit", admin.get("/admin/catalog?sort=-name").text) \
        == ["nio", "byd"]
    assert re.findall(r"brands/([a-z-]+)/edit", admin.get("/admin/catalog?q=compan").text) \
        == ["byd"]
    assert admin.get("/admin/catalog?sort=password").status_code == 400
    assert admin.get("/admin/catalog?offset=-1").status_code == 400


def test_the_model_list_filters_by_brand_and_powertrain(app, people):
    admin = _client(app)
    models = admin.get("/admin/catalog/models?brand=byd&powertrain=phev").text
    assert re.findall(r"models/([a-z0-9-]+)/edit", models) == ["byd-seal-u-dm-i"]
    assert "Plug-in hybrid" in models and "since 2024" in models
    assert admin.get("/admin/catalog/models?brand=tesla").status_code == 400
    assert admin.get("/admin/catalog/models?powertrain=diesel").status_code == 400
    assert "Tyres" in admin.get("/admin/catalog/services").text


def test_a_new_brand_is_stamped_as_the_operators_and_audited(app, people, session):
    admin = _client(app)
    response = _post(admin, "/admin/catalog/brands/new",
                     _brand_form(name_zh_Hans="零跑", website="https://www.leapmotor.com"))
    assert response.status_code == 303, response.text
    session.rollback()
    brand = session.exec(select(Brand).where(Brand.slug == "leapmotor")).one()
    assert brand.names == {"zh_Hans": "零跑"} and brand.version == 1
    assert "admin@example.test" in brand.edited_by and brand.edited_at is not None
    [entry] = _audit(session, "brand.create")
    assert entry.entity_id == "leapmotor" and "admin@example.test" in entry.actor_label
    assert entry.after["names"] == {"zh_Hans": "零跑"}


def test_an_edit_moves_the_version_and_a_stale_one_is_a_409_that_changes_nothing(
        app, people, session):
    admin = _client(app)
    path = "/admin/catalog/brands/byd/edit"
    page = admin.get(path).text
    assert "The slug cannot be changed" in page and 'name="slug"' not in page
    token = csrf_token(page)
    form = {"csrf_token": token, "name": "BYD Auto", "parent_group": "BYD Company",
            "website": "", "version": "1", "name_zh_Hans": "比亚迪"}
    assert admin.post(path, data=form).status_code == 303
    session.rollback()
    brand = session.exec(select(Brand).where(Brand.slug == "byd")).one()
    assert (brand.name, brand.version, brand.names) == ("BYD Auto", 2, {"zh_Hans": "比亚迪"})
    engine = app.extensions["service_portal.engine"]
    before = table_snapshot(engine)
    stale = admin.post(path, data={**form, "name": "Build Your Dreams"})
    assert stale.status_code == 409
    assert "Someone else changed this in the meantime" in stale.text
    assert table_snapshot(engine) == before
    [entry] = _audit(session, "brand.update")
    assert entry.before == {"name": "BYD", "names": {}}
    assert entry.after == {"name": "BYD Auto", "names": {"zh_Hans": "比亚迪"}}


@pytest.mark.parametrize(("path", "form", "message"), [
    ("/admin/catalog/brands/new", _brand_form(slug="Leap Motor"), "Not a slug"),
    ("/admin/catalog/brands/new", _brand_form(slug="byd"), "exists already"),
    ("/admin/catalog/brands/new", _brand_form(website="javascript:alert(1)"), "http"),
    ("/admin/catalog/brands/new", _brand_form(name=""), "required"),
    ("/admin/catalog/models/new", _model_form(year_to="2024"), "cannot come before"),
    ("/admin/catalog/models/new", _model_form(year_from="1885"), "A model year between"),
    ("/admin/catalog/models/new", _model_form(year_from="soon"), "integer"),
    ("/admin/catalog/models/new", _model_form(powertrain="diesel"), "Not a valid choice"),
    ("/admin/catalog/models/new", _model_form(slug="sealion-7"), "starts with its brand"),
    ("/admin/catalog/models/new", _model_form(brand="tesla"), "Not a valid choice"),
    ("/admin/catalog/services/new", {"slug": "tyres", "name": "Tyres"}, "exists already"),
    ("/admin/catalog/services/new", {"slug": "wash", "name": "Wash\x1b[2J"}, "Control"),
])
def test_bad_input_is_refused_clearly_and_stores_nothing(app, people, path, form, message):
    engine = app.extensions["service_portal.engine"]
    admin = _client(app)
    before = table_snapshot(engine)
    response = _post(admin, path, form)
    assert response.status_code == 422
    assert message in response.text
    assert table_snapshot(engine) == before


def test_a_model_is_created_with_its_years(app, people, session):
    admin = _client(app)
    assert _post(admin, "/admin/catalog/models/new",
                 _model_form(year_to="2026")).status_code == 303
    session.rollback()
    model = session.exec(select(VehicleModel).where(VehicleModel.slug == "byd-sealion-7")).one()
    assert (model.year_from, model.year_to, model.powertrain, model.body) == (
        2025, 2026, "bev", "suv")
    assert len(_audit(session, "model.create")) == 1
    edit = "/admin/catalog/models/byd-sealion-7/edit"
    page = admin.get(edit).text
    assert 'name="brand"' not in page
    response = admin.post(edit, data={"csrf_token": csrf_token(page), **_model_form(
        year_to="", name="Sealion 7"), "version": "1"})
    assert response.status_code == 303
    session.rollback()
    assert session.get(VehicleModel, model.id).year_to is None


def test_a_chinese_reader_sees_the_operators_chinese_name(app, people):
    admin = _client(app)
    path = "/admin/catalog/brands/byd/edit"
    assert _post(admin, path, {"name": "BYD", "parent_group": "", "website": "",
                               "version": "1", "name_zh_Hans": "比亚迪"}).status_code == 303
    assert "比亚迪" in admin.get("/admin/catalog?lang=zh_Hans").text
    assert "比亚迪" not in admin.get("/admin/catalog?lang=de").text
    brands = app.test_client().get("/api/v1/brands?lang=zh_Hans").json["results"]
    assert {b["brand"]: b["name"] for b in brands} == {"byd": "比亚迪", "nio": "NIO"}
    models = app.test_client().get("/api/v1/models?brand=byd&lang=zh_Hans").json["results"]
    assert models[0]["name"] == "Seal"


def test_a_new_service_is_offered_by_its_name_on_the_search_page(app, people):
    admin = _client(app)
    assert _post(admin, "/admin/catalog/services/new",
                 {"slug": "heat-pump", "name": "Heat pump repair",
                  "name_de": "Wärmepumpe"}).status_code == 303
    page = app.test_client().get("/?lang=en").text
    assert re.search(r'<label for="service-heat-pump">Heat pump repair</label>', page)
    assert "Wärmepumpe" in app.test_client().get("/?lang=de").text
    services = app.test_client().get("/api/v1/services?lang=fr").json["results"]
    assert {"service": "heat-pump", "name": "Heat pump repair"} in services


def test_a_new_brand_and_service_are_search_filters_at_once(app, people, make):
    client = app.test_client()
    near = "/api/v1/shops?lat=50.11&lon=8.68"
    assert client.get(f"{near}&brand=leapmotor").status_code == 422  # the index caches
    admin = _client(app)
    assert _post(admin, "/admin/catalog/brands/new", _brand_form()).status_code == 303
    assert _post(admin, "/admin/catalog/services/new",
                 {"slug": "heat-pump", "name": "Heat pump repair"}).status_code == 303
    found = client.get(f"{near}&brand=leapmotor&service=heat-pump")
    assert found.status_code == 200, found.json
    assert found.json["total"] == 0


def test_the_wmi_table_is_listed_edited_and_deleted_with_confirmation(app, people, session):
    admin = _client(app)
    assert "LGX" in admin.get("/admin/wmi").text
    assert _post(admin, "/admin/wmi/new", {"code": "lc0", "brands": ["byd", "nio"],
                                           "source": "ISO 3780 register",
                                           "note": ""}).status_code == 303
    listed = admin.get("/admin/wmi?brand=nio").text
    assert re.findall(r"/admin/wmi/([A-Z0-9]{3})\"", listed) == ["LC0"]
    assert re.findall(r"/admin/wmi/([A-Z0-9]{3})\"", admin.get("/admin/wmi?sort=-code").text) \
        == ["LGX", "LC0"]
    page = admin.get("/admin/wmi/LC0").text
    form = {"csrf_token": csrf_token(page), "brands": ["nio"], "source": "ISO 3780 register",
            "note": "NIO only", "version": "1"}
    assert admin.post("/admin/wmi/LC0", data=form).status_code == 303
    assert admin.post("/admin/wmi/LC0", data=form).status_code == 409
    session.rollback()
    row = session.get(WmiCode, "LC0")
    assert (row.brands, row.version, row.note) == (["nio"], 2, "NIO only")
    confirm = admin.get("/admin/wmi/LC0/delete").text
    assert "Delete the WMI LC0?" in confirm
    stale = admin.post("/admin/wmi/LC0/delete", data={"csrf_token": csrf_token(confirm),
                                                     "version": "1"})
    assert stale.status_code == 409
    assert admin.post("/admin/wmi/LC0/delete", data={"csrf_token": csrf_token(confirm),
                                                     "version": "2"}).status_code == 303
    session.rollback()
    assert session.get(WmiCode, "LC0") is None
    actions = [e.action for e in session.exec(select(AuditEntry).where(
        AuditEntry.entity_type == "wmi").order_by(AuditEntry.id)).all()]
    assert actions == ["wmi.create", "wmi.update", "wmi.delete"]


@pytest.mark.parametrize(("form", "message"), [
    ({"code": "LOX", "brands": ["byd"], "source": "x"}, "without I, O and Q"),
    ({"code": "LG", "brands": ["byd"], "source": "x"}, "without I, O and Q"),
    ({"code": "LGX", "brands": ["byd"], "source": "x"}, "in the table already"),
    ({"code": "LGY", "brands": [], "source": "x"}, "at least one brand"),
    ({"code": "LGY", "brands": ["tesla"], "source": "x"}, "is not a valid choice"),
    ({"code": "LGY", "brands": ["byd"], "source": ""}, "required"),
])
def test_a_bad_wmi_is_refused_clearly_and_stores_nothing(app, people, form, message):
    engine = app.extensions["service_portal.engine"]
    admin = _client(app)
    before = table_snapshot(engine)
    response = _post(admin, "/admin/wmi/new", form)
    assert response.status_code == 422
    assert message in response.text
    assert table_snapshot(engine) == before


def _with_check_digit(vin: str) -> str:
    """`vin` with its ISO 3779 check digit in position 9."""
    values = {**{str(d): d for d in range(10)},
              **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
              **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
              **dict(zip("STUVWXYZ", range(2, 10), strict=True))}
    weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
    total = sum(values[c] * w for c, w in zip(vin, weights, strict=True)) % 11
    return vin[:8] + ("X" if total == 10 else str(total)) + vin[9:]


def test_a_vin_of_a_new_wmi_names_its_brand(app, people):
    """Needs catalog/vin.py to read the WMI table (the reference-catalog change)."""
    vin = _with_check_digit("L7ZAB1230R0000001")
    assert app.test_client().get(f"/api/v1/vin/{vin}").json["brand"] is None
    admin = _client(app)
    assert _post(admin, "/admin/wmi/new", {"code": "L7Z", "brands": ["nio"],
                                           "source": "https://example.test/nio-wmi"}
                 ).status_code == 303
    assert app.test_client().get(f"/api/v1/vin/{vin}").json["brand"] == "nio"


def test_services_keep_their_translations_from_the_catalogs(app, people, session):
    session.add(Service(slug="maintenance", name="Maintenance and inspection"))
    session.commit()
    services = app.test_client().get("/api/v1/services?lang=de").json["results"]
    assert {s["service"]: s["name"] for s in services}["maintenance"] == "Wartung und Inspektion"
