"""Retention: `service-portal retention` (and the worker, daily) erases the personal data of
cases closed longer ago than their market's period, as the staff erasure does, with one
audit entry per run; `--dry-run` lists them and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlmodel import select

from service_portal.audit.actors import Actor
from service_portal.audit.models import AuditEntry
from service_portal.cases.models import Case, CaseEvent
from service_portal.cases.schemas import CasePatch, CaseRequest, NoteIn
from service_portal.cases.services import add_note, change_case, open_case
from service_portal.cases.workflow import DEFAULT_SLA_HOURS
from service_portal.markets.models import Market
from service_portal.markets.retention import apply_retention, retention_due
from service_portal.markets.services import load_markets
from tests.helpers import changed_tables, table_snapshot

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
ACTOR = Actor.command_line("test")


@pytest.fixture
def world(make, session):
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    service = make.service("hv-battery")
    shop = make.shop(make.org("nord"), brands=[(byd, "authorized")], services=[service])
    load_markets(session, ACTOR)
    session.get(Market, "DE").retention_days = 365
    session.commit()
    return {"shop_id": shop.id}


def _case(session, world, *, country: str, email: str, closed_days_ago: float | None,
          status: str = "closed", notify: bool = False) -> str:
    """A case opened, worked and (unless `status` says otherwise) closed that long ago."""
    start = NOW - timedelta(days=(closed_days_ago or 0) + 10)
    case = open_case(session, CaseRequest.model_validate({
        "name": "Ingrid Example", "email": email, "model": "byd-atto-3", "year": 2023,
        "country": country, "service": "hv-battery", "vin": None,
        "description": "Battery warning light after charging.", "consent": True}),
        hours=DEFAULT_SLA_HOURS, now=start, notify=notify)
    add_note(session, case, NoteIn(body="Call me after six.", internal=False), actor=ACTOR,
             now=start)
    walk = ["triaged", "assigned", "in_repair", "resolved", "closed"]
    for step, target in enumerate(walk[:walk.index(status) + 1]):
        session.refresh(case)
        at = NOW - timedelta(days=closed_days_ago) if target == "closed" else \
            start + timedelta(hours=step + 1)
        change_case(session, case, CasePatch.model_validate({
            "version": case.version, "status": target,
            **({"shop_id": world["shop_id"]} if target == "assigned" else {})}),
            actor=ACTOR, hours=DEFAULT_SLA_HOURS, now=at, notify=False)
    session.commit()
    return case.reference


def _case_row(session, reference: str) -> Case:
    session.rollback()
    return session.exec(select(Case).where(Case.reference == reference)).one()


def _runs(session) -> list[AuditEntry]:
    session.rollback()
    return list(session.exec(select(AuditEntry).where(
        AuditEntry.action == "privacy.retention")).all())


def test_a_case_closed_past_its_markets_period_is_erased(session, world):
    old = _case(session, world, country="DE", email="old@mail.example", closed_days_ago=400)
    apply_retention(session, actor=ACTOR, now=NOW)
    session.commit()
    case = _case_row(session, old)
    assert case.erased_at is not None
    assert (case.owner_name, case.owner_email, case.description, case.vin) == (None,) * 4
    assert case.country == "DE" and case.status == "closed"  # statistics stay
    bodies = session.exec(select(CaseEvent.body).where(CaseEvent.case_id == case.id)).all()
    assert all(body is None for body in bodies)
    kinds = session.exec(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
    assert "erased" in kinds


def test_a_case_within_the_period_is_kept(session, world):
    recent = _case(session, world, country="DE", email="new@mail.example", closed_days_ago=300)
    apply_retention(session, actor=ACTOR, now=NOW)
    session.commit()
    case = _case_row(session, recent)
    assert case.erased_at is None and case.owner_email == "new@mail.example"


@pytest.mark.parametrize("status", ["in_repair", "resolved"])
def test_a_case_that_is_not_closed_is_never_erased(session, world, status):
    reference = _case(session, world, country="DE", email="open@mail.example",
                      closed_days_ago=900, status=status)
    apply_retention(session, actor=ACTOR, now=NOW)
    session.commit()
    assert _case_row(session, reference).owner_email == "open@mail.example"


def test_a_case_in_a_country_without_a_market_is_kept(session, world):
    reference = _case(session, world, country="US", email="us@mail.example",
                      closed_days_ago=5000)
    apply_retention(session, actor=ACTOR, now=NOW)
    session.commit()
    assert _case_row(session, reference).owner_email == "us@mail.example"


def test_each_market_uses_its_own_period(session, world):
    saudi = session.get(Market, "SA").retention_days
    kept = _case(session, world, country="SA", email="sa@mail.example",
                 closed_days_ago=saudi - 10)
    gone = _case(session, world, country="DE", email="de@mail.example",
                 closed_days_ago=saudi - 10)
    run = apply_retention(session, actor=ACTOR, now=NOW)
    session.commit()
    assert [reference for reference, _country, _closed in run.cases] == [gone]
    assert _case_row(session, kept).erased_at is None


def test_one_audit_entry_per_run_with_counts_and_cutoffs(session, world):
    first = _case(session, world, country="DE", email="a@mail.example", closed_days_ago=500)
    second = _case(session, world, country="DE", email="b@mail.example", closed_days_ago=400)
    apply_retention(session, actor=ACTOR, now=NOW)
    session.commit()
    (entry,) = _runs(session)
    assert entry.after["erased"] == 2 and sorted(entry.after["cases"]) == sorted([first, second])
    assert entry.after["markets"]["DE"] == {"cutoff": (NOW - timedelta(days=365)).isoformat(),
                                            "erased": 2}
    assert len(entry.after["markets"]) == 26
    apply_retention(session, actor=ACTOR, now=NOW + timedelta(days=1))
    session.commit()
    runs = _runs(session)
    assert len(runs) == 2 and runs[1].after["erased"] == 0


def test_the_owners_emails_about_an_erased_case_go(session, world):
    from service_portal.notifications.models import Notification

    reference = _case(session, world, country="DE", email="mail@mail.example",
                      closed_days_ago=400, notify=True)
    case_id = _case_row(session, reference).id
    assert session.exec(select(Notification).where(Notification.case_id == case_id,
                                                   Notification.recipient ==
                                                   "mail@mail.example")).all()
    apply_retention(session, actor=ACTOR, now=NOW)
    session.commit()
    session.rollback()
    assert not session.exec(select(Notification).where(
        Notification.recipient == "mail@mail.example")).all()


def test_a_dry_run_lists_the_cases_and_changes_nothing(app, session, world, cli):
    old = _case(session, world, country="DE", email="old@mail.example", closed_days_ago=400)
    _case(session, world, country="DE", email="new@mail.example", closed_days_ago=30)
    engine = app.extensions["service_portal.engine"]
    before = table_snapshot(engine)
    with time_machine.travel(NOW, tick=False):
        result = cli("retention", "--dry-run")
    assert result.exit_code == 0, result.output
    assert old in result.output and (NOW - timedelta(days=400)).date().isoformat() \
        in result.output
    assert "Would erase the personal data of 1 cases" in result.output
    assert changed_tables(before, table_snapshot(engine)) == []


def test_the_command_erases_and_writes_one_audit_entry(app, session, world, cli):
    old = _case(session, world, country="DE", email="old@mail.example", closed_days_ago=400)
    with time_machine.travel(NOW, tick=False):
        result = cli("retention")
    assert result.exit_code == 0, result.output
    assert "Erased the personal data of 1 cases" in result.output
    assert _case_row(session, old).erased_at is not None
    (entry,) = _runs(session)
    assert entry.actor_label.endswith("(command line)") and entry.after["cases"] == [old]


def test_the_worker_runs_retention_once_a_day(app, session, world):
    from service_portal.notifications.worker import run

    old = _case(session, world, country="DE", email="old@mail.example", closed_days_ago=400)
    with time_machine.travel(NOW, tick=True), app.app_context():
        run(app, once=True, poll_seconds=0)
        run(app, once=True, poll_seconds=0)  # a restart the same day: no second run
    assert _case_row(session, old).erased_at is not None
    assert len(_runs(session)) == 1
    session.rollback()
    assert retention_due(session, now=NOW + timedelta(hours=23)) is False
    assert retention_due(session, now=NOW + timedelta(days=1, minutes=1)) is True


def test_no_markets_means_no_daily_run(session, make):
    assert retention_due(session, now=NOW) is False
