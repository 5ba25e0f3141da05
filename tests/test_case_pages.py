"""Case pages over HTTP with cookies and CSRF: request help, status, staff queue and case,
dashboard and export, privacy, and the dealer's view of their own shops' cases."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import select

from service_portal.audit.models import AuditEntry
from service_portal.cases.models import Case, CaseEvent
from tests.test_cases_api import open_case
from tests.test_dealer_pages import PASSWORD, csrf, sign_in


@pytest.fixture
def world(make):
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    service = make.service("hv-battery")
    own, other = make.org("nordic"), make.org("other")
    shop = make.shop(own, name="Fjord EV Service", brands=[(byd, "authorized")],
                     services=[service], lat=59.91, lon=10.75)
    other_shop = make.shop(other, name="Elsewhere Garage", brands=[(byd, "partner")],
                           services=[service], lat=59.92, lon=10.76)
    make.user("staff", email="agent@portal.example", password=PASSWORD)
    make.user("dealer", own, email="dealer@nordic.example", password=PASSWORD)
    make.user("dealer", other, email="dealer@other.example", password=PASSWORD)
    return {"shop": shop, "other_shop": other_shop}


def help_form(client, **changes) -> dict:
    token = csrf(client.get("/help").data)
    data = {"csrf_token": token, "name": "Ola Example", "email": "ola@mail.example",
            "phone": "+47 412 34 567", "model": "byd-atto-3", "country": "NO",
            "place": "Oslo", "service": "hv-battery",
            "description": "The car will not charge above 80 percent.", "consent": "y"}
    return {k: v for k, v in (data | changes).items() if v is not None}


def staff_client(app):
    client = app.test_client()
    sign_in(client, "agent@portal.example")
    return client


def test_owner_asks_for_help_and_gets_a_reference(client, world, session):
    response = client.post("/help", data=help_form(client), follow_redirects=True)
    assert response.status_code == 200
    reference = re.search(r"SP-\d{4}-[0-9A-Z]{8}", response.text).group(0)
    session.rollback()
    case = session.scalars(select(Case)).one()
    assert case.reference == reference and case.owner_phone == "+4741234567"
    assert round(case.lat) == 60 and response.headers["Cache-Control"] == "no-store"


def test_without_consent_nothing_is_stored_and_the_form_says_why(client, world, session):
    response = client.post("/help", data=help_form(client, consent=None))
    assert response.status_code == 422
    assert "Please agree" in response.text
    assert 'value="Ola Example"' in response.text  # what was typed is kept
    session.rollback()
    assert session.scalar(select(Case.id)) is None


def test_form_errors_are_translated(client, world):
    client.get("/help?lang=de")
    response = client.post("/help", data=help_form(client, phone="12"))
    assert response.status_code == 422
    assert "Keine gültige Telefonnummer" in response.text


def test_the_help_form_needs_its_csrf_token(client, world, session):
    data = help_form(client)
    data.pop("csrf_token")
    assert client.post("/help", data=data).status_code == 400
    session.rollback()
    assert session.scalar(select(Case.id)) is None


def test_status_page_shows_public_notes_only(app, client, world):
    reference = open_case(client, email="ola@mail.example", country="NO",
                          phone="+47 412 34 567")
    staff = staff_client(app)
    page = staff.get(f"/staff/cases/{reference}")
    for body, internal in (("We found a shop for you.", ""), ("Check warranty first.", "y")):
        data = {"csrf_token": csrf(page.data), "body": body}
        if internal:
            data["internal"] = "y"
        staff.post(f"/staff/cases/{reference}/notes", data=data)
        page = staff.get(f"/staff/cases/{reference}")
    token = csrf(client.get("/cases/status").data)
    found = client.post("/cases/status", data={"csrf_token": token, "reference": reference,
                                               "email": "OLA@mail.example"})
    assert found.status_code == 200
    assert "We found a shop for you." in found.text
    assert "Check warranty" not in found.text and "+4741234567" not in found.text
    wrong = client.post("/cases/status", data={"csrf_token": token, "reference": reference,
                                               "email": "other@mail.example"})
    assert wrong.status_code == 404 and "We found a shop" not in wrong.text



def test_staff_move_a_case_on_its_page_and_see_the_history(app, client, world, session):
    reference = open_case(client)
    staff = staff_client(app)
    page = staff.get(f"/staff/cases/{reference}")
    assert page.status_code == 200 and "Ingrid Example" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    saved = staff.post(f"/staff/cases/{reference}/change", data={
        "csrf_token": csrf(page.data), "version": "1", "status": "triaged",
        "priority": "high", "assignee": "agent@portal.example"}, follow_redirects=True)
    assert "The case was saved." in saved.text
    assert "Triaged" in saved.text and "agent@portal.example" in saved.text
    session.rollback()
    events = session.scalars(select(CaseEvent.kind)).all()
    assert events == ["opened", "changed"]
    views = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.view")).all()
    assert len(views) == 2 and views[0].actor_label == "agent@portal.example (web)"


def test_a_stale_staff_form_is_refused(app, client, world, session):
    reference = open_case(client)
    staff = staff_client(app)
    token = csrf(staff.get(f"/staff/cases/{reference}").data)
    staff.post(f"/staff/cases/{reference}/change",
               data={"csrf_token": token, "version": "1", "status": "triaged"})
    stale = staff.post(f"/staff/cases/{reference}/change",
                       data={"csrf_token": token, "version": "1", "priority": "urgent"},
                       follow_redirects=True)
    assert "Someone else changed this" in stale.text
    session.rollback()
    assert session.scalars(select(Case.priority)).one() == "normal"


def test_an_invalid_move_on_the_page_is_refused(app, client, world, session):
    reference = open_case(client)
    staff = staff_client(app)
    token = csrf(staff.get(f"/staff/cases/{reference}").data)
    refused = staff.post(f"/staff/cases/{reference}/change",
                         data={"csrf_token": token, "version": "1", "status": "resolved"},
                         follow_redirects=True)
    assert "Not a valid choice" in refused.text or "cannot move" in refused.text
    session.rollback()
    assert session.scalars(select(Case.status)).one() == "new"


def test_queue_lists_and_filters_cases(app, client, world):
    first = open_case(client, description="Charging flap broken off at the hinge.")
    second = open_case(client, country="NO", phone=None)
    staff = staff_client(app)
    page = staff.get("/staff/cases")
    assert first in page.text and second in page.text
    filtered = staff.get("/staff/cases?country=NO&status=&brand=&q=")
    assert second in filtered.text and first not in filtered.text
    assert staff.get("/staff/cases?status=nope").status_code == 400


def test_dashboard_draws_charts_as_svg(app, client, world):
    open_case(client)
    staff = staff_client(app)
    page = staff.get("/staff/dashboard")
    assert page.status_code == 200 and "/staff/dashboard/brand.svg" in page.text
    svg = staff.get("/staff/dashboard/brand.svg")
    # The axis names the brand, not its slug.
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data and b">BYD<" in svg.data
    assert b">byd<" not in svg.data
    assert b"<script" not in svg.data
    assert staff.get("/staff/dashboard/nothing.svg").status_code == 400


def test_export_neutralises_formulas_and_holds_no_personal_data(app, client, world):
    open_case(client, name="=cmd|' /C calc'!A0")
    staff = staff_client(app)
    response = staff.get("/staff/cases.csv")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "reference" and len(rows) == 2
    assert "cmd" not in response.text and "Ingrid" not in response.text


def test_privacy_export_and_erasure_from_the_page(app, client, world, session):
    reference = open_case(client)
    staff = staff_client(app)
    token = csrf(staff.get("/staff/privacy").data)
    exported = staff.post("/staff/privacy", data={"csrf_token": token, "action": "export",
                                                  "email": "ingrid@mail.example"})
    assert json.loads(exported.data)["cases"][0]["reference"] == reference
    unconfirmed = staff.post("/staff/privacy", data={"csrf_token": token, "action": "erase",
                                                     "email": "ingrid@mail.example"})
    assert unconfirmed.status_code == 422
    erased = staff.post("/staff/privacy", data={"csrf_token": token, "action": "erase",
                                                "confirm": "y",
                                                "email": "ingrid@mail.example"},
                        follow_redirects=True)
    assert "was erased" in erased.text
    session.rollback()
    assert session.scalars(select(Case.owner_email)).one() is None
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "privacy.export" in actions and "privacy.erase" in actions
    assert "ingrid" not in str(session.scalars(select(AuditEntry.entity_id)).all())


@pytest.mark.parametrize("path", ["/staff/cases", "/staff/dashboard", "/staff/privacy",
                                  "/staff/audit", "/staff/cases.csv"])
def test_staff_pages_are_for_staff(app, client, world, path):
    assert client.get(path).status_code == 302  # to the login page
    dealer = app.test_client()
    sign_in(dealer, "dealer@nordic.example")
    assert dealer.get(path).status_code == 403


def test_audit_log_page_lists_entries(app, client, world):
    reference = open_case(client)
    staff = staff_client(app)
    staff.get(f"/staff/cases/{reference}")
    page = staff.get(f"/staff/audit?entity_type=case&entity_id={reference}")
    assert page.status_code == 200 and "case.view" in page.text


def _assign(app, client, world, shop) -> str:
    reference = open_case(client)
    staff = staff_client(app)
    token = csrf(staff.get(f"/staff/cases/{reference}").data)
    for version, status in ((1, "triaged"), (2, "assigned")):
        staff.post(f"/staff/cases/{reference}/change", data={
            "csrf_token": token, "version": str(version), "status": status,
            "shop_id": str(shop.id)})
    return reference


def test_dealer_sees_and_moves_only_their_shops_cases(app, client, world, session):
    own = _assign(app, client, world, world["shop"])
    foreign = _assign(app, client, world, world["other_shop"])
    dealer = app.test_client()
    sign_in(dealer, "dealer@nordic.example")
    listing = dealer.get("/dealer/cases")
    assert own in listing.text and foreign not in listing.text
    assert dealer.get(f"/dealer/cases/{foreign}").status_code == 404
    page = dealer.get(f"/dealer/cases/{own}")
    token = csrf(page.data)
    moved = dealer.post(f"/dealer/cases/{own}/status", data={
        "csrf_token": token, "version": "3", "status": "waiting_parts"}, follow_redirects=True)
    assert "Waiting for parts" in moved.text
    refused = dealer.post(f"/dealer/cases/{own}/status", data={
        "csrf_token": token, "version": "4", "status": "closed"}, follow_redirects=True)
    assert "The case was saved." not in refused.text
    assert dealer.post(f"/dealer/cases/{foreign}/status", data={
        "csrf_token": token, "version": "3", "status": "in_repair"}).status_code == 404
    note = dealer.post(f"/dealer/cases/{own}/notes", data={
        "csrf_token": token, "body": "Part arrives Tuesday."})
    assert note.status_code == 302
    session.rollback()
    statuses = dict(session.execute(select(Case.reference, Case.status)).all())
    assert statuses == {own: "waiting_parts", foreign: "assigned"}
    notes = session.scalars(select(CaseEvent).where(CaseEvent.kind == "note")).all()
    assert [(n.body, n.internal) for n in notes] == [("Part arrives Tuesday.", False)]
    # The dealer's page shows the owner's phone: their view is in the audit log; the
    # refused look at another organisation's case is not a view.
    views = session.execute(select(AuditEntry.actor_label, AuditEntry.entity_id)
                            .where(AuditEntry.action == "case.view")).all()
    assert ("dealer@nordic.example (web)", own) in views
    assert all(entity != foreign for actor, entity in views if actor.startswith("dealer"))


def test_a_note_with_control_characters_is_refused_on_the_page(app, client, world, session):
    reference = open_case(client)
    staff = staff_client(app)
    token = csrf(staff.get(f"/staff/cases/{reference}").data)
    response = staff.post(f"/staff/cases/{reference}/notes",
                          data={"csrf_token": token, "body": "bad\x00note"},
                          follow_redirects=True)
    assert response.status_code == 200
    assert "Control characters are not allowed here." in response.text
    session.rollback()
    assert session.scalars(select(CaseEvent.kind)).all() == ["opened"]


def test_dashboard_statistics_match_a_count_by_hand(make, session):
    """Grouped SQL gives what counting every case by hand gives, "unknown" included, and
    the resolution medians cover only the last weeks that saw a resolution."""
    from collections import Counter
    from datetime import UTC, datetime, timedelta

    from service_portal.cases.queries import case_statistics

    byd, mg = make.brand("byd"), make.brand("mg")
    atto = make.model(byd, "byd-atto-3", year_from=2022)
    battery, tyres = make.service("hv-battery"), make.service("tyres")
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    specs = [(byd, atto, "NO", battery, "new"), (byd, None, "DE", tyres, "triaged"),
             (mg, None, "NO", battery, "resolved"), (None, None, "SA", battery, "resolved"),
             (byd, atto, "NO", tyres, "closed"), (mg, None, "TH", tyres, "resolved")]
    for i, (brand, model, country, service, status) in enumerate(specs):
        created = now - timedelta(days=20 * i + 3)
        session.add(Case(reference=f"SP-2026-TEST000{i}", status=status, country=country,
                         brand_id=brand.id if brand else None,
                         model_id=model.id if model else None, service_id=service.id,
                         consent_at=created, created_at=created,
                         resolved_at=now - timedelta(days=20 * i)
                         if status in ("resolved", "closed") else None))
    session.commit()
    stats = case_statistics(session, now=now, weeks=2)
    assert stats["total"] == 6
    assert stats["brand"] == [("byd", 3), ("mg", 2), ("unknown", 1)]
    assert dict(stats["model"]) == {"byd-atto-3": 2, "unknown": 4}
    assert dict(stats["country"]) == dict(Counter(s[2] for s in specs))
    assert dict(stats["service"]) == {"hv-battery": 3, "tyres": 3}
    assert dict(stats["status"]) == dict(Counter(s[4] for s in specs))
    # Resolved 40, 60, 80 and 100 days ago, each 3 days after opening: the newest two weeks.
    weeks = stats["resolution_hours"]
    assert len(weeks) == 2 and all(median == 72 and count == 1 for _w, median, count in weeks)
    newest = (now - timedelta(days=40)).isocalendar()
    assert weeks[-1][0] == f"{newest[0]}-W{newest[1]:02d}"
    only = case_statistics(session, now=now, only=("country",))
    assert set(only) == {"total", "country"}
