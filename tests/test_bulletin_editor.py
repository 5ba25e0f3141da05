"""The staff bulletin editor over HTTP with real cookies and CSRF tokens: create, preview,
refuse invalid input, permissions, and an audited edit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service_portal.audit.models import AuditEntry
from service_portal.bulletins.models import Bulletin
from tests.test_dealer_pages import PASSWORD, csrf, sign_in


@pytest.fixture
def setup(make):
    byd = make.brand("byd", name="BYD")
    make.model(byd, "byd-seal", name="Seal", year_from=2023)
    make.model(make.brand("mg", name="MG"), "mg-mg4", name="MG4")
    make.user("staff", email="staff@portal.example", password=PASSWORD)
    make.user("dealer", make.org(), email="dealer@portal.example", password=PASSWORD)


def form(token: str, **changes) -> dict:
    data = {"csrf_token": token, "code": "BYD-R-2026-001", "kind": "recall", "brand": "byd",
            "models": ["byd-seal"], "year_from": "2023", "year_to": "2024",
            "countries": "DE, no", "severity": "high", "published": "2026-11-01",
            "texts-en-title": "Coolant hose clamp", "texts-en-summary": "Check the clamp.",
            "texts-en-body": "Workshops **replace** the clamp.",
            "texts-de-title": "Kühlmittelschlauchschelle", "texts-de-summary": "Prüfen.",
            "texts-de-body": "Die Werkstatt tauscht die Schelle.", "action": "save"}
    return {k: v for k, v in (data | changes).items() if v is not None}


def staff_client(client):
    sign_in(client, "staff@portal.example")
    return client


def new_page_token(client) -> str:
    page = client.get("/staff/bulletins/new")
    assert page.status_code == 200
    return csrf(page.data)


def stored(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Bulletin))


def test_staff_create_a_bulletin_in_two_languages_that_then_applies(client, setup, session):
    staff_client(client)
    response = client.post("/staff/bulletins/new", data=form(new_page_token(client)))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/bulletins/BYD-R-2026-001/edit")
    found = client.get("/api/v1/bulletins?model=byd-seal&year=2023&country=NO&lang=de").json
    assert [b["code"] for b in found["results"]] == ["BYD-R-2026-001"]
    assert found["results"][0]["title"] == "Kühlmittelschlauchschelle"
    assert found["results"][0]["fallback"] is False
    listing = client.get("/staff/bulletins?brand=byd&kind=recall").get_data(as_text=True)
    assert "BYD-R-2026-001" in listing and "de, en" in listing
    assert "BYD-R-2026-001" not in client.get("/staff/bulletins?kind=tsb").get_data(as_text=True)
    session.rollback()
    entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "bulletin.create" and entry.entity_id == "BYD-R-2026-001"
    assert entry.actor_label.startswith("staff@portal.example") and entry.before is None
    assert entry.after["countries"] == ["DE", "NO"]


def test_preview_renders_each_language_and_stores_nothing(client, setup, session):
    staff_client(client)
    response = client.post("/staff/bulletins/new", data=form(
        new_page_token(client), action="preview",
        **{"texts-en-body": "Workshops **replace** it. <script>alert(1)</script>"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<strong>replace</strong>" in html and "Die Werkstatt tauscht" in html
    assert "<script>alert(1)" not in html
    assert stored(session) == 0


@pytest.mark.parametrize("changes, message", [
    ({"texts-en-title": "", "texts-en-summary": "", "texts-en-body": ""},
     "An English title, summary and body are required."),
    ({"models": ["mg-mg4"]}, "Unknown model for this brand: mg-mg4"),
    ({"countries": "DE, XX"}, "Not an ISO 3166-1 alpha-2 country code: XX"),
    ({"year_from": "2025", "year_to": "2023"}, "The last model year is before the first."),
    ({"code": "no spaces allowed"}, "Capital letters, digits and hyphens only"),
    ({"texts-de-body": ""}, "This value is required."),
])
def test_invalid_input_shows_the_error_and_stores_nothing(client, setup, session, changes,
                                                          message):
    staff_client(client)
    response = client.post("/staff/bulletins/new", data=form(new_page_token(client), **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert stored(session) == 0


def test_an_existing_code_cannot_be_created_again(client, setup, session):
    staff_client(client)
    client.post("/staff/bulletins/new", data=form(new_page_token(client)))
    again = client.post("/staff/bulletins/new", data=form(new_page_token(client),
                                                          severity="low"))
    assert again.status_code == 409 and b"exists already" in again.data
    assert client.get("/api/v1/bulletins/BYD-R-2026-001").json["severity"] == "high"


def test_missing_csrf_token_is_400_and_stores_nothing(client, setup, session):
    staff_client(client)
    response = client.post("/staff/bulletins/new", data=form("", csrf_token=None))
    assert response.status_code == 400
    assert stored(session) == 0


@pytest.mark.parametrize("path", ["/staff/bulletins", "/staff/bulletins/new"])
def test_dealers_get_403(client, setup, path):
    sign_in(client, "dealer@portal.example")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/staff/bulletins", "/staff/bulletins/new"])
def test_anonymous_visitors_are_sent_to_sign_in(client, setup, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_edit_writes_an_audit_entry_with_before_and_after(client, setup, session):
    staff_client(client)
    client.post("/staff/bulletins/new", data=form(new_page_token(client)))
    page = client.get("/staff/bulletins/BYD-R-2026-001/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Kühlmittelschlauchschelle" in html
    assert 'value="DE, NO"' in html
    response = client.post("/staff/bulletins/BYD-R-2026-001/edit",
                           data=form(csrf(page.data), code=None, severity="critical"))
    assert response.status_code == 303
    assert client.get("/api/v1/bulletins/BYD-R-2026-001").json["severity"] == "critical"
    session.rollback()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "bulletin.update")
                            ).one()
    assert entry.before["severity"] == "high" and entry.after["severity"] == "critical"
    assert set(entry.before["texts"]) == {"de", "en"}


def test_saving_an_unchanged_bulletin_writes_no_audit_entry(client, setup, session):
    staff_client(client)
    client.post("/staff/bulletins/new", data=form(new_page_token(client)))
    page = client.get("/staff/bulletins/BYD-R-2026-001/edit")
    client.post("/staff/bulletins/BYD-R-2026-001/edit", data=form(csrf(page.data), code=None))
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_editing_an_unknown_bulletin_is_404(client, setup):
    staff_client(client)
    assert client.get("/staff/bulletins/NOPE-1/edit").status_code == 404
