"""Support cases through the JSON API: owners ask and follow, staff move cases by the rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, text

from service_portal.audit.models import AuditEntry
from service_portal.cases.models import Case, CaseEvent

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(make):
    return make_world(make)


def make_world(make) -> dict:
    """Brands, models, services, two shops of two organisations, a staff and a dealer token."""
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    make.model(make.brand("mg"), "mg-mg4", year_from=2022)
    service = make.service("hv-battery")
    make.service("recall-work")
    org, other_org = make.org("nordic"), make.org("other")
    shop = make.shop(org, brands=[(byd, "authorized")], services=[service])
    other_shop = make.shop(other_org, brands=[(byd, "partner")], services=[service])
    staff = make.user("staff", email="agent@portal.example")
    return {"shop": shop, "other_shop": other_shop, "staff": make.token(staff),
            "dealer": make.token(make.user("dealer", org))}


def request_body(**changes) -> dict:
    base = {"name": "Ingrid Example", "email": "Ingrid@Mail.example", "phone": "0151 23456789",
            "model": "byd-atto-3", "year": 2023, "country": "DE", "service": "hv-battery",
            "description": "Battery warning light after charging.", "consent": True}
    return {k: v for k, v in (base | changes).items() if v is not None}


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def open_case(client, **changes) -> str:
    response = client.post("/api/v1/cases", json=request_body(**changes))
    assert response.status_code == 201, response.json
    return response.json["reference"]


def patch(client, token, reference, **body):
    return client.patch(f"/api/v1/cases/{reference}", json=body, headers=auth(token))


def staff_view(client, token, reference) -> dict:
    return client.get(f"/api/v1/cases/{reference}", headers=auth(token)).json


def test_owner_opens_a_case_and_sees_its_status_without_private_fields(client, world):
    response = client.post("/api/v1/cases", json=request_body())
    assert response.status_code == 201
    assert response.json["status"] == "new"
    reference = response.json["reference"]
    assert reference.startswith("SP-") and len(reference.split("-")[2]) == 8
    status = client.get(f"/api/v1/cases/{reference}?email=ingrid@mail.example")
    assert status.status_code == 200
    assert status.json["status"] == "new" and status.json["model"] == "byd-atto-3"
    assert "phone" not in str(status.json) and "0151" not in str(status.json)
    assert status.headers["Cache-Control"] == "no-store"


def test_status_with_a_wrong_email_is_not_found(client, world):
    reference = open_case(client)
    assert client.get(f"/api/v1/cases/{reference}?email=other@mail.example").status_code == 404
    assert client.get(f"/api/v1/cases/{reference}").status_code == 400


def test_phone_is_stored_in_e164_for_the_country(client, world):
    reference = open_case(client)
    assert staff_view(client, world["staff"], reference)["owner"]["phone"] == "+4915123456789"


@pytest.mark.parametrize("changes, field", [
    ({"consent": False}, "consent"),
    ({"consent": None}, "consent"),
    ({"email": "not-an-address"}, "email"),
    ({"phone": "12"}, "phone"),
    ({"model": None}, "vin"),
    ({"model": None, "vin": "LGXCE4CB0P0000001X"}, "vin"),
    ({"model": "byd-nothing"}, "model"),
    ({"service": "teleportation"}, "service"),
    ({"country": "XX"}, "country"),
    ({"shop_id": 999999}, "shop_id"),
    ({"place": "Nowhereville Zzyzx"}, "place"),
    ({"description": "short"}, "description"),
    ({"admin": True}, "admin"),
])
def test_bad_requests_are_refused_and_store_nothing(client, world, session, changes, field):
    response = client.post("/api/v1/cases", json=request_body(**changes))
    assert response.status_code == 422
    assert response.json["error"]["field"] == field
    session.rollback()
    assert session.scalar(select(Case.id)) is None


def test_error_messages_are_in_the_request_language(client, world):
    response = client.post("/api/v1/cases?lang=de", json=request_body(service="teleportation"))
    assert response.status_code == 422 and "Unbekannte" in response.json["error"]["message"]


def test_a_vin_gives_the_brand_and_year(client, world):
    reference = open_case(client, model=None, year=None, vin="LGXCE4CB4P0000001")
    case = staff_view(client, world["staff"], reference)
    assert case["brand"] == "byd" and case["vin"] == "LGXCE4CB4P0000001"


def test_a_place_is_resolved_for_nearby_shops(client, world, session):
    reference = open_case(client, place="Muenchen")
    session.rollback()
    case = session.scalars(select(Case).where(Case.reference == reference)).one()
    assert case.place.startswith("Munich") and round(case.lat) == 48


def test_case_creation_is_rate_limited(make_app, world):
    app = make_app(CASE_RATE_LIMIT="2 per hour")
    client = app.test_client()
    assert open_case(client) and open_case(client)
    response = client.post("/api/v1/cases", json=request_body())
    assert response.status_code == 429 and response.headers["Retry-After"]


def test_staff_follow_a_case_from_new_to_closed_with_every_step_in_history(client, world):
    reference = open_case(client)
    token, shop_id = world["staff"], world["shop"].id
    steps = [{"status": "triaged", "priority": "high"},
             {"status": "assigned", "shop_id": shop_id, "assignee": "agent@portal.example"},
             {"status": "in_repair"}, {"status": "waiting_parts"}, {"status": "in_repair"},
             {"status": "resolved"}, {"status": "closed"}]
    version = 1
    for step in steps:
        response = patch(client, token, reference, version=version, **step)
        assert response.status_code == 200, response.json
        assert response.json["status"] == step["status"]
        version = response.json["version"]
    case = staff_view(client, token, reference)
    assert case["status"] == "closed" and case["closed_at"]
    kinds = [(e["kind"], (e["after"] or {}).get("status")) for e in case["events"]]
    assert kinds == [("opened", "new")] + [("changed", s["status"]) for s in steps]
    assigned = case["events"][2]
    assert assigned["before"]["status"] == "triaged" and assigned["after"]["shop_id"] == shop_id
    assert assigned["actor"].startswith("agent@portal.example")
    assert case["assignee"] == "agent@portal.example"


@pytest.mark.parametrize("path, target", [
    ([], "assigned"), ([], "resolved"), (["triaged"], "in_repair"),
    (["triaged", "assigned", "in_repair", "resolved", "closed"], "in_repair"),
    (["triaged", "assigned", "in_repair", "resolved"], "new"),
])
def test_moves_the_contract_does_not_allow_are_refused(client, world, path, target):
    reference = open_case(client)
    version = 1
    for status in path:
        body = {"status": status, "version": version}
        if status == "assigned":
            body["shop_id"] = world["shop"].id
        version = patch(client, world["staff"], reference, **body).json["version"]
    response = patch(client, world["staff"], reference, status=target, version=version)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_transition"
    assert staff_view(client, world["staff"], reference)["version"] == version


def test_a_reopened_case_goes_back_to_triage(client, world):
    reference = open_case(client)
    version = 1
    for status in ("triaged", "assigned", "in_repair", "resolved", "reopened", "triaged"):
        body = {"status": status, "version": version, "shop_id": world["shop"].id}
        response = patch(client, world["staff"], reference, **body)
        assert response.status_code == 200, (status, response.json)
        version = response.json["version"]
    assert response.json["resolved_at"] is None


def test_assigning_needs_a_shop(client, world):
    reference = open_case(client)
    patch(client, world["staff"], reference, status="triaged", version=1)
    response = patch(client, world["staff"], reference, status="assigned", version=2)
    assert response.status_code == 422 and response.json["error"]["code"] == "shop_required"


def test_a_stale_version_is_a_conflict_and_changes_nothing(client, world):
    reference = open_case(client)
    assert patch(client, world["staff"], reference, status="triaged", version=1).status_code == 200
    stale = patch(client, world["staff"], reference, priority="urgent", version=1)
    assert stale.status_code == 409
    case = staff_view(client, world["staff"], reference)
    assert case["priority"] == "normal" and case["version"] == 2


def test_sla_pauses_while_waiting_for_parts_and_resumes_after(client, world):
    token = world["staff"]
    with time_machine.travel(START, tick=False) as clock:
        reference = open_case(client)  # normal priority: due 72 h later
        due = START + timedelta(hours=72)
        version = 1
        for status in ("triaged", "assigned", "waiting_parts"):
            version = patch(client, token, reference, status=status, version=version,
                            shop_id=world["shop"].id).json["version"]
        clock.shift(timedelta(hours=100))  # past the due time, but the clock is paused
        paused = staff_view(client, token, reference)
        assert paused["sla_paused"] is True and paused["sla_breached"] is False
        assert datetime.fromisoformat(paused["sla_due"]) == due
        listed = client.get("/api/v1/cases?breached=true", headers=auth(token)).json
        assert listed["total"] == 0
        resumed = patch(client, token, reference, status="in_repair", version=version).json
        assert resumed["sla_paused"] is False
        assert datetime.fromisoformat(resumed["sla_due"]) == due + timedelta(hours=100)
        clock.shift(timedelta(hours=73))
        late = client.get("/api/v1/cases?breached=true", headers=auth(token)).json
        assert [c["reference"] for c in late["results"]] == [reference]
        assert late["results"][0]["sla_breached"] is True


def test_priority_moves_the_due_time(client, world):
    with time_machine.travel(START, tick=False):
        reference = open_case(client)
        case = patch(client, world["staff"], reference, priority="urgent", version=1).json
    assert datetime.fromisoformat(case["sla_due"]) == START + timedelta(hours=4)


def test_sla_hours_are_configurable(make_app, world):
    app = make_app(CASE_SLA_HOURS={"urgent": 1, "high": 8, "normal": 10, "low": 100})
    client = app.test_client()
    with time_machine.travel(START, tick=False):
        reference = open_case(client)
    case = staff_view(client, world["staff"], reference)
    assert datetime.fromisoformat(case["sla_due"]) == START + timedelta(hours=10)


def test_notes_public_reach_the_owner_internal_do_not(client, world):
    reference = open_case(client)
    for body, internal in (("Parts ordered, expected Friday.", False),
                           ("Owner sounded upset; call back.", True)):
        response = client.post(f"/api/v1/cases/{reference}/notes",
                               json={"body": body, "internal": internal},
                               headers=auth(world["staff"]))
        assert response.status_code == 201
    public = client.get(f"/api/v1/cases/{reference}?email=ingrid@mail.example").json
    assert [n["body"] for n in public["notes"]] == ["Parts ordered, expected Friday."]
    staff = staff_view(client, world["staff"], reference)
    assert [e["internal"] for e in staff["events"] if e["kind"] == "note"] == [False, True]


def test_bulletins_are_linked_and_unknown_ones_refused(client, world, make, session):
    from tests.test_bulletins_staff_api import body as bulletin_body

    client.post("/api/v1/bulletins", json=bulletin_body(models=[], year_from=None,
                                                        year_to=None),
                headers=auth(world["staff"]))
    reference = open_case(client)
    bad = patch(client, world["staff"], reference, bulletin_codes=["NOPE-1"], version=1)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "bulletin_codes"
    good = patch(client, world["staff"], reference, bulletin_codes=["byd-r-2026-001"],
                 version=1)
    assert good.status_code == 200 and good.json["bulletin_codes"] == ["BYD-R-2026-001"]


def test_staff_queue_filters(client, world):
    first = open_case(client, description="Charging port flap broken off.")
    second = open_case(client, country="NO", phone=None, model="mg-mg4")
    token = world["staff"]

    def refs(query: str) -> list[str]:
        response = client.get(f"/api/v1/cases?{query}", headers=auth(token))
        assert response.status_code == 200, response.json
        return sorted(c["reference"] for c in response.json["results"])

    assert refs("") == sorted([first, second])
    assert refs("country=NO") == [second]
    assert refs("brand=byd") == [first]
    assert refs("q=flap") == [first]
    assert refs(f"q={second.lower()}") == [second]
    assert refs("status=new&country=DE") == [first]
    assert refs("status=closed") == []
    patch(client, token, first, status="triaged", version=1)
    patch(client, token, first, status="assigned", shop_id=world["shop"].id, version=2)
    assert refs(f"shop_id={world['shop'].id}") == [first]


@pytest.mark.parametrize("query", ["status=done", "limit=0", "limit=x", "breached=maybe",
                                   "country=ZZZ", "brand=no such brand", "colour=red",
                                   "q=" + "x" * 101, "status=new&status=triaged"])
def test_bad_queue_parameters_are_400(client, world, query):
    response = client.get(f"/api/v1/cases?{query}", headers=auth(world["staff"]))
    assert response.status_code == 400


@pytest.mark.parametrize("method, path", [
    ("get", "/api/v1/cases"), ("patch", "/api/v1/cases/{ref}"),
    ("post", "/api/v1/cases/{ref}/notes"), ("post", "/api/v1/privacy/export"),
    ("post", "/api/v1/privacy/erase"), ("get", "/api/v1/cases/{ref}"),
])
def test_staff_routes_refuse_dealers_and_bad_tokens(client, world, method, path):
    reference = open_case(client)
    url = path.format(ref=reference)
    kwargs = {"json": {"version": 1, "body": "x", "email": "ingrid@mail.example"}}
    dealer = getattr(client, method)(url, headers=auth(world["dealer"]), **kwargs)
    assert dealer.status_code == 403
    anonymous = getattr(client, method)(url, headers=auth("spt_wrong"), **kwargs)
    assert anonymous.status_code == 401


def test_staff_reading_a_case_is_audited(client, world, session):
    reference = open_case(client)
    staff_view(client, world["staff"], reference)
    session.rollback()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.view")).one()
    assert entry.entity_id == reference and entry.actor_label.startswith("agent@")


def test_export_holds_everything_about_the_owner(client, world, session):
    reference = open_case(client)
    client.post(f"/api/v1/cases/{reference}/notes", json={"body": "Called the owner."},
                headers=auth(world["staff"]))
    open_case(client, email="someone.else@mail.example")
    data = client.post("/api/v1/privacy/export", json={"email": "INGRID@mail.example"},
                       headers=auth(world["staff"])).json
    assert [c["reference"] for c in data["cases"]] == [reference]
    case = data["cases"][0]
    assert case["owner"]["name"] == "Ingrid Example" and case["owner"]["phone"]
    assert [e["body"] for e in case["events"] if e["kind"] == "note"] == ["Called the owner."]
    session.rollback()
    assert session.scalars(select(AuditEntry.action)
                           .where(AuditEntry.action == "privacy.export")).one()


def test_erasure_removes_personal_data_and_keeps_statistics(client, world, session):
    reference = open_case(client, place="Berlin")
    client.post(f"/api/v1/cases/{reference}/notes", json={"body": "Ingrid called twice."},
                headers=auth(world["staff"]))
    response = client.post("/api/v1/privacy/erase", json={"email": "ingrid@mail.example"},
                           headers=auth(world["staff"]))
    assert response.status_code == 200 and response.json["erased"] == [reference]
    session.rollback()
    case = session.scalars(select(Case).where(Case.reference == reference)).one()
    assert (case.owner_name, case.owner_email, case.owner_phone, case.description,
            case.place, case.lat) == (None,) * 6
    assert case.erased_at is not None and case.country == "DE" and case.brand_id
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [e.body for e in events] == [None, None, None]
    assert events[-1].kind == "erased"
    assert "Ingrid" not in str(client.post("/api/v1/privacy/export",
                                           json={"email": "ingrid@mail.example"},
                                           headers=auth(world["staff"])).json)
    assert client.get(f"/api/v1/cases/{reference}?email=ingrid@mail.example").status_code == 404


def test_case_events_cannot_be_rewritten(client, world, session):
    open_case(client)
    session.rollback()
    for statement in ("UPDATE case_events SET kind = 'forged'",
                      "UPDATE case_events SET body = 'forged'",
                      "DELETE FROM case_events"):
        with pytest.raises(Exception, match="append-only"):
            session.execute(text(statement))
        session.rollback()
