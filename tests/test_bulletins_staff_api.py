"""Staff publish bulletins through the API: token of staff or admin, validated, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service_portal.audit.models import AuditEntry


@pytest.fixture
def setup(make):
    byd = make.brand("byd")
    make.model(byd, "byd-seal", year_from=2023)
    make.model(make.brand("mg"), "mg-mg4")
    return {"staff": make.token(make.user("staff")), "dealer": make.token(
        make.user("dealer", make.org()))}


def body(**changes) -> dict:
    base = {"code": "BYD-R-2026-001", "kind": "recall", "brand": "byd", "models": ["byd-seal"],
            "year_from": 2023, "year_to": 2024, "countries": ["DE", "no"],
            "severity": "high", "published": "2026-11-01",
            "texts": {"en": {"title": "Coolant hose clamp", "summary": "Check the clamp.",
                             "body": "Workshops **replace** the clamp."},
                      "de": {"title": "Kühlmittelschlauchschelle", "summary": "Prüfen.",
                             "body": "Die Werkstatt tauscht die Schelle."}}}
    return base | changes


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_staff_create_a_bulletin_that_then_applies(client, setup, session):
    response = client.post("/api/v1/bulletins", json=body(), headers=auth(setup["staff"]))
    assert response.status_code == 201
    assert response.json["title"] == "Coolant hose clamp"
    found = client.get("/api/v1/bulletins?model=byd-seal&year=2023&country=NO&lang=de").json
    assert [b["code"] for b in found["results"]] == ["BYD-R-2026-001"]
    assert found["results"][0]["title"] == "Kühlmittelschlauchschelle"
    assert client.get("/api/v1/bulletins?model=byd-seal&year=2025").json["results"] == []
    session.rollback()
    entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "bulletin.create" and entry.entity_id == "BYD-R-2026-001"


def test_update_keeps_an_audited_before_and_after(client, setup, session):
    client.post("/api/v1/bulletins", json=body(), headers=auth(setup["staff"]))
    changed = body(severity="critical")
    response = client.put("/api/v1/bulletins/BYD-R-2026-001", json=changed,
                          headers=auth(setup["staff"]))
    assert response.status_code == 200 and response.json["severity"] == "critical"
    session.rollback()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "bulletin.update")
                            ).one()
    assert entry.before["severity"] == "high" and entry.after["severity"] == "critical"
    assert set(entry.before["texts"]) == {"de", "en"}


def test_creating_an_existing_code_is_409(client, setup):
    client.post("/api/v1/bulletins", json=body(), headers=auth(setup["staff"]))
    again = client.post("/api/v1/bulletins", json=body(), headers=auth(setup["staff"]))
    assert again.status_code == 409 and again.json["error"]["code"] == "bulletin_exists"


@pytest.mark.parametrize("changes, field", [
    ({"models": ["mg-mg4"]}, "models"),
    ({"kind": "rumour"}, "kind"),
    ({"texts": {"de": {"title": "x", "summary": "y", "body": "z"}}}, "texts"),
    ({"countries": ["XX"]}, "countries"),
    ({"year_from": 2025, "year_to": 2023}, None),
    ({"secret": True}, "secret"),
])
def test_invalid_bulletins_are_422_and_store_nothing(client, setup, changes, field):
    response = client.post("/api/v1/bulletins", json=body(**changes),
                           headers=auth(setup["staff"]))
    assert response.status_code == 422
    if field:
        fields = [d.get("field") or "" for d in response.json["error"]["details"]] + \
            [response.json["error"]["field"] or ""]
        assert any(f.startswith(field) for f in fields)
    assert client.get("/api/v1/bulletins/BYD-R-2026-001").status_code == 404


def test_only_staff_and_admins_may_publish(client, setup):
    assert client.post("/api/v1/bulletins", json=body()).status_code == 401
    assert client.post("/api/v1/bulletins", json=body(),
                       headers=auth(setup["dealer"])).status_code == 403


def test_put_to_an_unknown_code_is_404_and_a_mismatch_422(client, setup):
    assert client.put("/api/v1/bulletins/BYD-R-2026-001", json=body(),
                      headers=auth(setup["staff"])).status_code == 404
    client.post("/api/v1/bulletins", json=body(), headers=auth(setup["staff"]))
    assert client.put("/api/v1/bulletins/OTHER-1", json=body(),
                      headers=auth(setup["staff"])).status_code == 422


def test_bodies_never_carry_raw_html_to_readers(client, setup):
    evil = body(texts={"en": {"title": "t", "summary": "s",
                              "body": "<script>alert(1)</script>[x](javascript:alert(1))"}})
    client.post("/api/v1/bulletins", json=evil, headers=auth(setup["staff"]))
    html = client.get("/api/v1/bulletins/BYD-R-2026-001").json["body_html"]
    assert "<script" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # shown as text, inert
