"""The SLA clock of support cases at its edges, with the clock frozen and moved by
time-machine: due times by priority, reopening, late resolution, pauses and priority
changes while paused, and how the queue (JSON, page, CSV) shows an overdue case."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.helpers import sign_in

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOURS = {"urgent": 4, "high": 24, "normal": 72, "low": 168}  # CASE_SLA_HOURS defaults
PASSWORD = "correct horse battery staple"
STAFF_EMAIL = "agent@portal.example"


@pytest.fixture
def world(make):
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    service = make.service("hv-battery")
    shop = make.shop(make.org("nordic"), brands=[(byd, "authorized")], services=[service])
    staff = make.user("staff", email=STAFF_EMAIL, password=PASSWORD)
    return {"shop_id": shop.id, "token": make.token(staff)}


@pytest.fixture
def clock():
    """The clock frozen at START; `clock.move_to(moment)` sets it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


class Desk:
    """Staff working on cases through the real routes: the public API to open them, the
    staff API (Bearer token) to change and read them."""

    def __init__(self, client, world) -> None:
        self.client, self.shop_id = client, world["shop_id"]
        self.headers = {"Authorization": f"Bearer {world['token']}"}

    def open(self) -> str:
        response = self.client.post("/api/v1/cases", json={
            "name": "Ingrid Example", "email": "ingrid@mail.example", "model": "byd-atto-3",
            "year": 2023, "country": "DE", "service": "hv-battery",
            "description": "Battery warning light after charging.", "consent": True})
        assert response.status_code == 201, response.json
        return response.json["reference"]

    def change(self, reference: str, **body) -> dict:
        version = self.case(reference)["version"]
        response = self.client.patch(f"/api/v1/cases/{reference}", headers=self.headers,
                                     json={"version": version, **body})
        assert response.status_code == 200, response.json
        return response.json

    def walk(self, reference: str, *statuses: str) -> dict:
        case = {}
        for status in statuses:
            extra = {"shop_id": self.shop_id} if status == "assigned" else {}
            case = self.change(reference, status=status, **extra)
        return case

    def case(self, reference: str) -> dict:
        response = self.client.get(f"/api/v1/cases/{reference}", headers=self.headers)
        assert response.status_code == 200, response.json
        return response.json

    def queue(self, query: str = "") -> dict[str, dict]:
        response = self.client.get(f"/api/v1/cases?{query}", headers=self.headers)
        assert response.status_code == 200, response.json
        return {row["reference"]: row for row in response.json["results"]}


@pytest.fixture
def desk(client, world) -> Desk:
    return Desk(client, world)


def due(case: dict) -> datetime:
    return datetime.fromisoformat(case["sla_due"])


def queue_page_rows(app) -> dict[str, str]:
    """The staff queue page as a signed-in agent sees it now: each case's table row."""
    browser = app.test_client()
    sign_in(browser, STAFF_EMAIL, PASSWORD)
    page = browser.get("/staff/cases")
    assert page.status_code == 200
    rows = re.findall(r"<tr[ >].*?</tr>", page.text, flags=re.S)
    return {m.group(0): row for row in rows
            if (m := re.search(r"SP-\d{4}-[0-9A-Z]{8}", row))}


def csv_rows(app) -> dict[str, dict]:
    """The queue's CSV export as a signed-in agent downloads it now, by reference."""
    browser = app.test_client()
    sign_in(browser, STAFF_EMAIL, PASSWORD)
    response = browser.get("/staff/cases.csv")
    assert response.status_code == 200
    reader = csv.DictReader(io.StringIO(response.data.decode("utf-8-sig")))
    return {row["reference"]: row for row in reader}


def shows_overdue(row: str) -> bool:
    return 'class="breached"' in row and "Overdue" in row


# --- due time at creation -----------------------------------------------------------------

def test_a_new_case_is_due_after_the_normal_allowance_from_the_request(desk, clock):
    reference = desk.open()
    case = desk.case(reference)
    assert case["priority"] == "normal"
    assert due(case) == START + timedelta(hours=HOURS["normal"])
    assert datetime.fromisoformat(case["created_at"]) == START
    assert case["sla_paused"] is False and case["sla_breached"] is False


@pytest.mark.parametrize("priority", sorted(HOURS))
def test_the_due_time_is_the_request_time_plus_the_priority_allowance(desk, clock, priority):
    reference = desk.open()
    clock.move_to(START + timedelta(minutes=30))  # triaged later: the clock ran from the request
    case = desk.change(reference, status="triaged", priority=priority)
    assert due(case) == START + timedelta(hours=HOURS[priority])
    assert due(desk.queue()[reference]) == START + timedelta(hours=HOURS[priority])


def test_the_allowances_come_from_case_sla_hours(make_app, world, clock):
    app = make_app(CASE_SLA_HOURS={"urgent": 1, "high": 8, "normal": 10, "low": 100})
    desk = Desk(app.test_client(), world)
    reference = desk.open()
    assert due(desk.case(reference)) == START + timedelta(hours=10)
    clock.move_to(START + timedelta(hours=2))
    assert due(desk.change(reference, priority="high")) == START + timedelta(hours=8)


# --- reopening ------------------------------------------------------------------------------

@pytest.mark.parametrize("finished", [("resolved",), ("resolved", "closed")])
def test_reopening_starts_a_fresh_clock_from_the_reopening(desk, clock, finished):
    reference = desk.open()
    desk.walk(reference, "triaged")
    desk.change(reference, priority="high")  # due START + 24 h
    desk.walk(reference, "assigned", "in_repair")
    clock.move_to(START + timedelta(hours=5))
    desk.walk(reference, *finished)
    reopened_at = START + timedelta(days=30)  # long after the old due time
    clock.move_to(reopened_at)
    case = desk.walk(reference, "reopened")
    assert due(case) == reopened_at + timedelta(hours=HOURS["high"])
    assert case["sla_breached"] is False and case["sla_paused"] is False
    assert case["resolved_at"] is None and case["closed_at"] is None
    assert reference not in desk.queue("breached=true")
    clock.move_to(reopened_at + timedelta(hours=HOURS["high"], seconds=1))
    assert desk.queue("breached=true")[reference]["sla_breached"] is True


def test_reopening_with_a_new_priority_counts_the_new_allowance(desk, clock):
    reference = desk.open()
    desk.walk(reference, "triaged", "assigned", "in_repair", "resolved", "closed")
    reopened_at = START + timedelta(days=10, minutes=7)
    clock.move_to(reopened_at)
    case = desk.change(reference, status="reopened", priority="urgent")
    assert due(case) == reopened_at + timedelta(hours=HOURS["urgent"])


def test_a_second_resolution_is_judged_against_the_fresh_clock(desk, clock):
    reference = desk.open()  # normal: due START + 72 h
    desk.walk(reference, "triaged", "assigned", "in_repair")
    clock.move_to(START + timedelta(hours=80))
    assert desk.walk(reference, "resolved")["sla_breached"] is True  # late the first time
    reopened_at = START + timedelta(hours=100)
    clock.move_to(reopened_at)
    desk.walk(reference, "reopened", "assigned", "in_repair")
    clock.move_to(reopened_at + timedelta(hours=HOURS["normal"] - 1))
    case = desk.walk(reference, "resolved")
    assert due(case) == reopened_at + timedelta(hours=HOURS["normal"])
    assert case["sla_breached"] is False


# --- late and timely resolution -------------------------------------------------------------

@pytest.mark.parametrize("after_due, breached", [
    (timedelta(minutes=-1), False),
    (timedelta(0), False),  # exactly on time is on time
    (timedelta(seconds=1), True),
    (timedelta(days=3), True),
])
def test_a_resolution_after_the_due_time_is_breached(desk, clock, after_due, breached):
    reference = desk.open()
    desk.change(reference, status="triaged", priority="urgent")
    desk.walk(reference, "assigned", "in_repair")
    due_at = START + timedelta(hours=HOURS["urgent"])
    resolved_at = due_at + after_due
    clock.move_to(resolved_at)
    case = desk.walk(reference, "resolved")
    assert datetime.fromisoformat(case["resolved_at"]) == resolved_at
    assert due(case) == due_at
    assert case["sla_breached"] is breached
    clock.move_to(resolved_at + timedelta(days=7))  # time passing changes nothing
    assert desk.case(reference)["sla_breached"] is breached
    assert desk.walk(reference, "closed")["sla_breached"] is breached
    assert desk.queue()[reference]["sla_breached"] is breached


def test_a_late_resolution_shows_as_breached_in_the_queue_page_and_csv(app, desk, clock):
    late, timely = desk.open(), desk.open()
    for reference in (late, timely):
        desk.change(reference, status="triaged", priority="urgent")
        desk.walk(reference, "assigned", "in_repair")
    clock.move_to(START + timedelta(hours=3))
    desk.walk(timely, "resolved")
    clock.move_to(START + timedelta(hours=5))
    desk.walk(late, "resolved")
    clock.move_to(START + timedelta(hours=6))
    queue = desk.queue()
    assert queue[late]["sla_breached"] is True and queue[timely]["sla_breached"] is False
    rows = queue_page_rows(app)
    assert shows_overdue(rows[late]) and not shows_overdue(rows[timely])
    exported = csv_rows(app)
    assert exported[late]["sla_breached"] == "True"
    assert exported[timely]["sla_breached"] == "False"
    assert exported[late]["resolved_at"] == (START + timedelta(hours=5)).isoformat()


def test_the_overdue_filter_agrees_with_the_flag_it_shows(desk, clock):
    late, timely = desk.open(), desk.open()
    for reference in (late, timely):
        desk.walk(reference, "triaged", "assigned", "in_repair")
    clock.move_to(START + timedelta(hours=HOURS["normal"] - 1))
    desk.walk(timely, "resolved")
    clock.move_to(START + timedelta(hours=HOURS["normal"] + 1))
    desk.walk(late, "resolved")
    overdue, on_time = desk.queue("breached=true"), desk.queue("breached=false")
    assert list(overdue) == [late] and overdue[late]["sla_breached"] is True
    assert list(on_time) == [timely] and on_time[timely]["sla_breached"] is False


# --- pauses while waiting for parts ---------------------------------------------------------

def test_time_waiting_for_parts_extends_the_due_time_by_exactly_that_time(desk, clock):
    reference = desk.open()  # normal: due START + 72 h
    desk.walk(reference, "triaged", "assigned", "in_repair")
    pauses = [(timedelta(hours=2), timedelta(hours=3, minutes=15, seconds=9)),
              (timedelta(hours=20), timedelta(days=2, seconds=1, microseconds=250_000))]
    for began, length in pauses:
        clock.move_to(START + began)
        paused = desk.walk(reference, "waiting_parts")
        assert paused["sla_paused"] is True
        clock.move_to(START + began + length)
        assert due(desk.case(reference)) == due(paused)  # held while paused
        desk.walk(reference, "in_repair")
    total = sum((length for _began, length in pauses), timedelta())
    case = desk.case(reference)
    assert case["sla_paused"] is False
    assert due(case) == START + timedelta(hours=HOURS["normal"]) + total
    clock.move_to(due(case))
    assert desk.case(reference)["sla_breached"] is False
    clock.move_to(due(case) + timedelta(microseconds=1))
    assert desk.case(reference)["sla_breached"] is True


def test_a_case_paused_past_its_due_time_is_not_overdue(desk, clock):
    reference = desk.open()
    desk.walk(reference, "triaged", "assigned")
    clock.move_to(START + timedelta(hours=1))
    desk.walk(reference, "waiting_parts")  # 71 h of the allowance left
    clock.move_to(START + timedelta(days=30))
    case = desk.case(reference)
    assert case["sla_paused"] is True and case["sla_breached"] is False
    assert due(case) == START + timedelta(hours=HOURS["normal"])
    assert reference not in desk.queue("breached=true")
    resumed_at = START + timedelta(days=30)
    assert due(desk.walk(reference, "in_repair")) == resumed_at + timedelta(hours=71)


def test_resolving_straight_from_waiting_parts_does_not_count_the_pause(desk, clock):
    reference = desk.open()
    desk.change(reference, status="triaged", priority="urgent")
    desk.walk(reference, "assigned")
    clock.move_to(START + timedelta(hours=1))
    desk.walk(reference, "waiting_parts")
    clock.move_to(START + timedelta(hours=10))  # 9 h paused, 1 h of 4 used
    case = desk.walk(reference, "resolved")
    assert case["sla_paused"] is False and case["sla_breached"] is False
    assert due(case) == START + timedelta(hours=HOURS["urgent"] + 9)


@pytest.mark.parametrize("new_priority", ["urgent", "high", "low"])
def test_a_priority_change_while_paused_counts_the_time_used_before_the_pause(
        desk, clock, new_priority):
    reference = desk.open()  # normal
    desk.walk(reference, "triaged", "assigned", "in_repair")
    used = timedelta(hours=10)
    clock.move_to(START + used)
    desk.walk(reference, "waiting_parts")
    clock.move_to(START + timedelta(hours=30))  # 20 h into the pause
    allowance = timedelta(hours=HOURS[new_priority])
    changed = desk.change(reference, priority=new_priority)
    assert changed["sla_paused"] is True
    assert due(changed) == START + allowance  # as if it had had this priority from the start
    used_up = allowance < used
    assert changed["sla_breached"] is used_up  # judged where the clock stopped
    resumed_at = START + timedelta(hours=50)
    clock.move_to(resumed_at)
    resumed = desk.walk(reference, "in_repair")
    assert resumed["sla_paused"] is False
    assert due(resumed) == resumed_at + (allowance - used)
    assert resumed["sla_breached"] is used_up
    if not used_up:
        clock.move_to(due(resumed))
        assert reference not in desk.queue("breached=true")
        clock.move_to(due(resumed) + timedelta(seconds=1))
        assert reference in desk.queue("breached=true")


def test_a_priority_change_while_paused_then_resolving_from_the_pause(desk, clock):
    reference = desk.open()  # normal
    desk.walk(reference, "triaged", "assigned", "in_repair")
    clock.move_to(START + timedelta(hours=3))
    desk.walk(reference, "waiting_parts")
    clock.move_to(START + timedelta(hours=40))
    desk.change(reference, priority="urgent")  # 1 h of 4 left when the pause ends
    clock.move_to(START + timedelta(hours=60))
    resolved = desk.walk(reference, "resolved")  # ends the pause: due 61 h after START
    assert due(resolved) == START + timedelta(hours=61)
    assert resolved["sla_breached"] is False


# --- the queue's overdue state -----------------------------------------------------------

def test_the_queue_shows_an_open_case_past_due_as_overdue(app, desk, clock):
    overdue, fresh = desk.open(), desk.open()
    desk.change(overdue, status="triaged", priority="urgent")
    due_at = START + timedelta(hours=HOURS["urgent"])
    clock.move_to(due_at)
    assert desk.queue("breached=true") == {}
    assert not shows_overdue(queue_page_rows(app)[overdue])
    clock.move_to(due_at + timedelta(seconds=1))
    listed = desk.queue("breached=true")
    assert list(listed) == [overdue] and due(listed[overdue]) == due_at
    assert listed[overdue]["sla_breached"] is True
    assert list(desk.queue("breached=false")) == [fresh]
    assert list(desk.queue()) == [overdue, fresh]  # most urgent first
    rows = queue_page_rows(app)
    assert shows_overdue(rows[overdue]) and not shows_overdue(rows[fresh])
    exported = csv_rows(app)
    assert exported[overdue]["sla_breached"] == "True"
    assert exported[fresh]["sla_breached"] == "False"
    assert exported[overdue]["sla_due"] == due_at.isoformat()
