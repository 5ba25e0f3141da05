"""SLA due times on a market's business hours: support days and hours in the market's zone,
public holidays skipped, the clock paused while waiting for parts as before; a country
without a market keeps wall-clock hours. The rules as plain functions first, then through
the staff API and pages on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from service_portal.audit.actors import Actor
from service_portal.cases import workflow
from service_portal.markets.calendar import BusinessCalendar
from service_portal.markets.services import load_markets
from tests.helpers import sign_in

HOURS = dict(workflow.DEFAULT_SLA_HOURS)  # urgent 4, high 24, normal 72, low 168
RIYADH, BERLIN = ZoneInfo("Asia/Riyadh"), ZoneInfo("Europe/Berlin")
SAUDI = BusinessCalendar(zone="Asia/Riyadh", workdays=frozenset({7, 1, 2, 3, 4}),
                         opens=time(9), closes=time(17), country="SA")
GERMANY = BusinessCalendar(zone="Europe/Berlin", workdays=frozenset({1, 2, 3, 4, 5}),
                           opens=time(8), closes=time(18), country="DE")
#: Thursday 3 December 2026, 15:00 in Riyadh.
THURSDAY_AFTERNOON = datetime(2026, 12, 3, 15, 0, tzinfo=RIYADH)
#: Thursday 24 December 2026, 16:00 in Frankfurt (25 and 26 December are holidays).
CHRISTMAS_EVE = datetime(2026, 12, 24, 16, 0, tzinfo=BERLIN)
PASSWORD = "correct horse battery staple"


# --- the rules ----------------------------------------------------------------------------

def test_a_thursday_afternoon_case_in_riyadh_is_due_on_sunday_morning():
    due = workflow.sla_due(THURSDAY_AFTERNOON, "urgent", HOURS, SAUDI)
    # Two hours on Thursday (15:00-17:00), Friday and Saturday off, two hours on Sunday.
    assert due == datetime(2026, 12, 6, 11, 0, tzinfo=RIYADH)


def test_a_case_on_christmas_eve_in_germany_comes_due_after_the_holidays():
    due = workflow.sla_due(CHRISTMAS_EVE, "urgent", HOURS, GERMANY)
    # 16:00-18:00 on the 24th; the 25th and 26th are public holidays, the 27th a Sunday.
    assert due == datetime(2026, 12, 28, 10, 0, tzinfo=BERLIN)


def test_a_public_holiday_on_a_working_day_is_skipped():
    # Thursday 31 December 17:00: one hour that day; Friday 1 January is New Year's Day,
    # then the weekend; three hours on Monday 4 January.
    start = datetime(2026, 12, 31, 17, 0, tzinfo=BERLIN)
    assert workflow.sla_due(start, "urgent", HOURS, GERMANY) == \
        datetime(2027, 1, 4, 11, 0, tzinfo=BERLIN)


def test_time_that_ends_at_closing_is_due_at_closing():
    start = datetime(2026, 12, 3, 13, 0, tzinfo=RIYADH)
    assert workflow.sla_due(start, "urgent", HOURS, SAUDI) == \
        datetime(2026, 12, 3, 17, 0, tzinfo=RIYADH)


def test_a_request_outside_support_hours_starts_counting_at_the_next_opening():
    friday_night = datetime(2026, 12, 4, 22, 0, tzinfo=RIYADH)
    assert workflow.sla_due(friday_night, "urgent", HOURS, SAUDI) == \
        datetime(2026, 12, 6, 13, 0, tzinfo=RIYADH)


def test_without_a_market_due_times_count_wall_clock_hours():
    assert workflow.sla_due(THURSDAY_AFTERNOON, "urgent", HOURS) == \
        THURSDAY_AFTERNOON + timedelta(hours=4)


def test_a_pause_for_parts_keeps_the_business_time_left():
    due = workflow.sla_due(THURSDAY_AFTERNOON, "urgent", HOURS, SAUDI)  # Sunday 11:00
    paused_at = datetime(2026, 12, 3, 16, 0, tzinfo=RIYADH)  # 3 business hours left
    due, paused = workflow.sla_after_move(
        status="in_repair", target="waiting_parts", due=due, paused_at=None, now=paused_at,
        priority="urgent", hours=HOURS, calendar=SAUDI)
    assert paused == paused_at and due == datetime(2026, 12, 6, 11, 0, tzinfo=RIYADH)
    resumed_at = datetime(2026, 12, 8, 10, 0, tzinfo=RIYADH)  # Tuesday 10:00
    due, paused = workflow.sla_after_move(
        status="waiting_parts", target="in_repair", due=due, paused_at=paused, now=resumed_at,
        priority="urgent", hours=HOURS, calendar=SAUDI)
    assert paused is None and due == datetime(2026, 12, 8, 13, 0, tzinfo=RIYADH)


def test_a_pause_without_a_market_still_pushes_the_due_time_back_by_the_pause():
    due = THURSDAY_AFTERNOON + timedelta(hours=4)
    paused_at = THURSDAY_AFTERNOON + timedelta(hours=1)
    resumed_at = paused_at + timedelta(hours=50)
    due_after, _ = workflow.sla_after_move(
        status="waiting_parts", target="in_repair", due=due, paused_at=paused_at,
        now=resumed_at, priority="urgent", hours=HOURS)
    assert due_after == due + timedelta(hours=50)


def test_a_priority_change_moves_the_due_time_by_business_hours():
    normal = workflow.sla_due(THURSDAY_AFTERNOON, "normal", HOURS, SAUDI)
    assert workflow.sla_after_priority(normal, "normal", "urgent", HOURS, SAUDI) == \
        workflow.sla_due(THURSDAY_AFTERNOON, "urgent", HOURS, SAUDI)


@pytest.mark.parametrize("hours", [1, 4, 8, 24, 72, 168])
def test_business_time_between_the_start_and_the_due_time_is_the_allowance(hours):
    due = SAUDI.add(THURSDAY_AFTERNOON, timedelta(hours=hours))
    assert SAUDI.between(THURSDAY_AFTERNOON, due) == timedelta(hours=hours)
    assert SAUDI.add(due, -timedelta(hours=hours)) == THURSDAY_AFTERNOON


def test_a_day_with_a_clock_change_counts_the_hours_the_wall_clock_shows():
    # Europe/Berlin leaves summer time on Sunday 25 October 2026 at 03:00: with support on
    # Sundays 00:00-06:00, that day has 7 real hours between opening and closing.
    sunday = BusinessCalendar(zone="Europe/Berlin", workdays=frozenset({7}), opens=time(0),
                              closes=time(6), country="DE")
    start = datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)
    assert sunday.between(start, datetime(2026, 10, 25, 6, 0, tzinfo=BERLIN)) == \
        timedelta(hours=7)


# --- through the app ------------------------------------------------------------------------

@pytest.fixture
def world(make, session):
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    service = make.service("hv-battery")
    shop = make.shop(make.org("gulf"), brands=[(byd, "authorized")], services=[service])
    staff = make.user("staff", email="agent@portal.example", password=PASSWORD)
    load_markets(session, Actor.command_line("test"))
    session.commit()
    return {"shop_id": shop.id, "token": make.token(staff)}


class Desk:
    """Staff opening cases through the public API and changing them through the staff API."""

    def __init__(self, client, world) -> None:
        self.client, self.shop_id = client, world["shop_id"]
        self.headers = {"Authorization": f"Bearer {world['token']}"}

    def open(self, country: str) -> str:
        response = self.client.post("/api/v1/cases", json={
            "name": "Yusuf Example", "email": "yusuf@mail.example", "model": "byd-atto-3",
            "year": 2024, "country": country, "service": "hv-battery",
            "description": "Battery warning light after fast charging.", "consent": True})
        assert response.status_code == 201, response.json
        return response.json["reference"]

    def change(self, reference: str, **body) -> dict:
        version = self.client.get(f"/api/v1/cases/{reference}",
                                  headers=self.headers).json["version"]
        response = self.client.patch(f"/api/v1/cases/{reference}", headers=self.headers,
                                     json={"version": version, **body})
        assert response.status_code == 200, response.json
        return response.json


def _due(case: dict) -> datetime:
    return datetime.fromisoformat(case["sla_due"])


def test_an_urgent_riyadh_case_opened_on_thursday_afternoon_is_due_on_sunday(client, world):
    desk = Desk(client, world)
    with time_machine.travel(THURSDAY_AFTERNOON, tick=False):
        reference = desk.open("SA")
        case = desk.change(reference, status="triaged", priority="urgent")
    assert _due(case) == datetime(2026, 12, 6, 11, 0, tzinfo=RIYADH)


def test_a_german_case_opened_on_christmas_eve_comes_due_after_the_holidays(client, world):
    desk = Desk(client, world)
    with time_machine.travel(CHRISTMAS_EVE, tick=False):
        reference = desk.open("DE")
        case = desk.change(reference, priority="urgent")
    assert _due(case) == datetime(2026, 12, 28, 10, 0, tzinfo=BERLIN)


def test_a_pause_for_parts_still_pauses_a_market_case(client, world):
    desk = Desk(client, world)
    with time_machine.travel(THURSDAY_AFTERNOON, tick=False) as clock:
        reference = desk.open("SA")
        desk.change(reference, status="triaged", priority="urgent")
        desk.change(reference, status="assigned", shop_id=world["shop_id"])
        clock.move_to(datetime(2026, 12, 3, 16, 0, tzinfo=RIYADH))  # 3 business hours left
        paused = desk.change(reference, status="waiting_parts")
        assert paused["sla_paused"] is True
        clock.move_to(datetime(2026, 12, 9, 10, 0, tzinfo=RIYADH))  # the next Wednesday
        still = client.get(f"/api/v1/cases/{reference}", headers=desk.headers).json
        assert still["sla_breached"] is False  # a paused clock is read where it stopped
        resumed = desk.change(reference, status="in_repair")
    assert resumed["sla_paused"] is False
    assert _due(resumed) == datetime(2026, 12, 9, 13, 0, tzinfo=RIYADH)


def test_a_country_without_a_market_keeps_wall_clock_hours(client, world):
    desk = Desk(client, world)
    with time_machine.travel(THURSDAY_AFTERNOON, tick=False):
        reference = desk.open("US")
        case = desk.change(reference, priority="urgent")
    assert _due(case) == THURSDAY_AFTERNOON + timedelta(hours=4)


def test_the_queue_and_case_page_say_when_business_hours_apply(app, client, world):
    desk = Desk(client, world)
    with time_machine.travel(THURSDAY_AFTERNOON, tick=False):
        saudi = desk.open("SA")
        american = desk.open("US")
        browser = app.test_client()
        sign_in(browser, "agent@portal.example", PASSWORD)
        page = browser.get("/staff/cases").text
        rows = {m.group(0): row for row in re.findall(r"<tr[ >].*?</tr>", page, flags=re.S)
                if (m := re.search(r"SP-\d{4}-[0-9A-Z]{8}", row))}
        case_page = browser.get(f"/staff/cases/{saudi}").text
        other_page = browser.get(f"/staff/cases/{american}").text
    assert "(business hours)" in rows[saudi] and "Due in" in rows[saudi]
    assert "(business hours)" not in rows[american]
    assert "(business hours)" in case_page and "(business hours)" not in other_page
