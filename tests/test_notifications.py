"""Email notifications through the outbox and the worker, delivered to a real SMTP server on
loopback: what owners and staff receive, in their language, exactly once, through server
failures, a killed worker and two racing workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from service_portal.cases.models import Case
from service_portal.db import session_scope, utcnow
from service_portal.notifications.models import Notification, StaffAlertChoice
from service_portal.notifications.outbox import enqueue, warn_due_soon
from service_portal.notifications.worker import claim, run
from tests.mail import SmtpServer
from tests.test_cases_api import auth, make_world, open_case, patch, request_body, staff_view

BASE = "https://portal.example"


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def world(make):
    return make_world(make)


@pytest.fixture
def app(make_app, smtp):
    return make_app(SMTP_URL=smtp.url, PUBLIC_BASE_URL=BASE,
                    MAIL_FROM="Portal <help@portal.example>", MAIL_RETRY_SECONDS=1,
                    MAIL_CLAIM_SECONDS=2)


def work(app) -> int:
    """One worker run until nothing is due."""
    with app.app_context():
        return run(app, once=True, poll_seconds=0)


def outbox(session) -> list[Notification]:
    session.rollback()
    return session.scalars(select(Notification).order_by(Notification.id)).all()


def body_of(message, kind: str = "plain") -> str:
    return message.get_body(preferencelist=(kind,)).get_content()


def test_an_owner_gets_one_confirmation_in_their_language(app, client, world, smtp):
    reference = open_case(client, locale="de")
    work(app)
    [message] = smtp.inbox.messages
    assert message["To"] == "ingrid@mail.example"
    assert message["Subject"] == f"Wir haben Ihre Anfrage {reference} erhalten"
    assert message["From"] == "Portal <help@portal.example>"
    assert message["Content-Language"] == "de"
    text = body_of(message)
    assert f"{BASE}/cases/status?reference={reference}" in text
    assert message["List-Unsubscribe"].startswith(f"<{BASE}/unsubscribe/")
    assert smtp.inbox.raw[0].count(b"List-Unsubscribe: <https://") == 1  # a bare URL
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith("<notification-")
    assert 'lang="de"' in body_of(message, "html")
    work(app)
    assert len(smtp.inbox.messages) == 1  # sent means sent: never again


def test_an_arabic_owner_gets_a_right_to_left_message(app, client, world, smtp):
    open_case(client, locale="ar")
    work(app)
    [message] = smtp.inbox.messages
    assert 'dir="rtl"' in body_of(message, "html")
    assert message["Content-Language"] == "ar"


def test_status_changes_and_public_notes_reach_the_owner_internal_notes_do_not(
        app, client, world, smtp):
    reference = open_case(client)
    version = staff_view(client, world["staff"], reference)["version"]
    assert patch(client, world["staff"], reference, status="triaged",
                 version=version).status_code == 200
    for body, internal in (("<b>Parts</b> ordered, expected Friday.", False),
                           ("Owner sounded upset.", True)):
        response = client.post(f"/api/v1/cases/{reference}/notes",
                               json={"body": body, "internal": internal},
                               headers=auth(world["staff"]))
        assert response.status_code == 201
    work(app)
    subjects = [m["Subject"] for m in smtp.inbox.messages]
    assert subjects == [f"We received your request {reference}",
                        f"Case {reference}: Triaged",
                        f"New message about your case {reference}"]
    status, note = smtp.inbox.messages[1:]
    assert "New → Triaged" in body_of(status)
    assert "> <b>Parts</b> ordered, expected Friday." in body_of(note)
    assert "&lt;b&gt;Parts&lt;/b&gt;" in body_of(note, "html")
    assert not any("upset" in body_of(m) for m in smtp.inbox.messages)


def test_a_change_that_fails_sends_nothing(app, client, world, session, smtp):
    reference = open_case(client)
    work(app)
    stale = patch(client, world["staff"], reference, status="triaged", version=99)
    assert stale.status_code == 409
    refused = patch(client, world["staff"], reference, status="closed",
                    version=staff_view(client, world["staff"], reference)["version"])
    assert refused.status_code == 422
    assert client.post("/api/v1/cases", json=request_body(service="nope")).status_code == 422
    assert [n.kind for n in outbox(session)] == ["case_opened"]
    work(app)
    assert len(smtp.inbox.messages) == 1


def test_one_click_unsubscribe_stops_the_cases_emails(app, client, world, session, smtp):
    reference = open_case(client)
    work(app)
    link = smtp.inbox.messages[0]["List-Unsubscribe"].strip("<>").removeprefix(BASE)
    assert "Stop the emails" in client.get(link).text
    done = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    session.rollback()
    assert session.scalar(select(Case.owner_updates).where(Case.reference == reference)) \
        is False
    version = staff_view(client, world["staff"], reference)["version"]
    patch(client, world["staff"], reference, status="triaged", version=version)
    work(app)
    assert len(smtp.inbox.messages) == 1
    assert client.post("/unsubscribe/not-a-token").status_code == 404


def test_a_server_that_is_down_gets_the_message_once_it_is_back(app, client, world,
                                                                session, smtp):
    smtp.stop()
    open_case(client)
    work(app)
    [row] = outbox(session)
    assert (row.state, row.attempts) == ("pending", 1) and "Connection" in row.last_error
    smtp.start()
    work(app)  # not due yet: the backoff holds it
    assert smtp.inbox.messages == []
    time.sleep(1.1)
    work(app)
    work(app)
    assert len(smtp.inbox.messages) == 1
    [row] = outbox(session)
    assert (row.state, row.attempts) == ("sent", 2)


def test_a_temporary_refusal_is_retried_and_a_permanent_one_recorded(app, client, world,
                                                                    session, smtp):
    smtp.inbox.answer = "451 4.3.0 Try again later"
    open_case(client)
    work(app)
    assert outbox(session)[0].state == "pending"
    smtp.inbox.answer = "550 5.1.1 Mailbox unavailable"
    time.sleep(1.1)
    work(app)
    [row] = outbox(session)
    assert row.state == "failed" and "550" in row.last_error
    smtp.inbox.answer = "250 OK"
    time.sleep(2.1)
    work(app)
    assert smtp.inbox.messages == []


def test_staff_hear_of_new_cases_only_in_the_countries_they_chose(app, client, world, make,
                                                                  session, smtp):
    norway = make.user("staff", email="norway@portal.example")
    germany = make.user("staff", email="germany@portal.example")
    session.add(StaffAlertChoice(user_id=norway.id, new_cases=True, countries=["NO"]))
    session.add(StaffAlertChoice(user_id=germany.id, new_cases=True, countries=["DE"],
                                 brands=["byd"]))
    session.commit()
    reference = open_case(client, country="DE", phone=None)
    work(app)
    [message] = smtp.inbox.to("germany@portal.example")
    assert message["Subject"] == f"New case {reference}"
    assert f"{BASE}/staff/cases/{reference}" in body_of(message)
    assert smtp.inbox.to("norway@portal.example") == []
    assert "List-Unsubscribe" not in message
    assert "ingrid" not in body_of(message).lower()


def test_an_assignee_is_told_and_warned_before_the_due_time(app, client, world, make,
                                                            session, smtp):
    make.user("staff", email="ola@portal.example")
    reference = open_case(client)
    version = staff_view(client, world["staff"], reference)["version"]
    assert patch(client, world["staff"], reference, assignee="ola@portal.example",
                 version=version).status_code == 200
    session.rollback()
    session.execute(update(Case).values(sla_due=utcnow() + timedelta(minutes=30)))
    session.commit()
    with app.app_context():
        with session_scope(app.extensions["service_portal.engine"]) as s:
            assert warn_due_soon(s) == 1
        with session_scope(app.extensions["service_portal.engine"]) as s:
            assert warn_due_soon(s) == 0  # once per due time
    work(app)
    subjects = [m["Subject"] for m in smtp.inbox.to("ola@portal.example")]
    assert subjects == [f"Case {reference} is assigned to you",
                        f"Case {reference} is due within the hour"]


def test_erasure_removes_the_owners_messages(app, client, world, session, smtp):
    open_case(client)
    response = client.post("/api/v1/privacy/erase", json={"email": "ingrid@mail.example"},
                           headers=auth(world["staff"]))
    assert response.status_code == 200
    assert outbox(session) == []
    work(app)
    assert smtp.inbox.messages == []


# --- the worker under faults and in company ----------------------------------------------

def _queue(session, count: int) -> None:
    for n in range(count):
        enqueue(session, kind="staff_new_case", recipient=f"agent{n}@portal.example",
                payload={"reference": f"SP-2026-{n:06d}"})
    session.commit()


def _worker_env(app, smtp_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"],
            "SECRET_KEY": app.config["SECRET_KEY"], "SMTP_URL": smtp_url,
            "PUBLIC_BASE_URL": BASE, "MAIL_CLAIM_SECONDS": "2"}


WORKER = [sys.executable, "-c", "from service_portal.cli import main; main()", "worker"]


def test_a_worker_killed_between_claim_and_send_leaves_the_message_to_the_next(
        app, session, smtp):
    _queue(session, 3)
    # A server that takes the connection and never greets: the worker hangs after its claim.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    stuck = subprocess.Popen(WORKER, env=_worker_env(app, f"smtp://127.0.0.1:"
                                                          f"{silent.getsockname()[1]}"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            session.rollback()
            if session.scalar(select(func.count()).where(Notification.claim.is_not(None))):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the worker claimed nothing")
        stuck.kill()  # SIGKILL: no cleanup
        stuck.wait()
    finally:
        silent.close()
    work(app)  # the lease still runs: nothing to take yet
    assert smtp.inbox.messages == []
    time.sleep(2.1)
    work(app)
    ids = sorted(m["X-Portal-Notification"] for m in smtp.inbox.messages)
    assert ids == sorted(str(n.id) for n in outbox(session)) and len(ids) == 3
    assert {n.state for n in outbox(session)} == {"sent"}


def test_two_workers_racing_send_each_message_exactly_once(app, session, smtp):
    _queue(session, 1000)
    env = _worker_env(app, smtp.url)
    workers = [subprocess.Popen([*WORKER, "--once"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE) for _ in range(2)]
    for w in workers:
        _out, errors = w.communicate(timeout=240)
        assert w.returncode == 0, errors
    ids = [m["X-Portal-Notification"] for m in smtp.inbox.messages]
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert {n.state for n in outbox(session)} == {"sent"}


def test_a_claim_is_exclusive_until_its_lease_ends(app, session):
    _queue(session, 5)
    now = utcnow()
    with app.app_context():
        engine = app.extensions["service_portal.engine"]
        with session_scope(engine) as s:
            first = claim(s, claim_id="a" * 32, now=now, lease=timedelta(seconds=60), limit=3)
        with session_scope(engine) as s:
            second = claim(s, claim_id="b" * 32, now=now, lease=timedelta(seconds=60))
        with session_scope(engine) as s:
            later = claim(s, claim_id="c" * 32, now=now + timedelta(seconds=61),
                          lease=timedelta(seconds=60))
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second)
    assert sorted(later) == sorted(first + second)


def test_threads_claiming_at_once_never_share_a_row(app, session):
    _queue(session, 200)
    taken: list[list[int]] = []

    def take(name: str) -> None:
        with app.app_context():
            engine = app.extensions["service_portal.engine"]
            while True:
                with session_scope(engine) as s:
                    ids = claim(s, claim_id=name * 32, now=utcnow(),
                                lease=timedelta(seconds=60), limit=7)
                if not ids:
                    return
                taken.append(ids)

    threads = [threading.Thread(target=take, args=(c,)) for c in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in taken for i in ids]
    assert len(every) == 200 and len(set(every)) == 200


# --- choices, the case page, health ---------------------------------------------------------

def test_staff_choose_what_they_hear_of_and_it_is_audited(app, make, session):
    from service_portal.audit.models import AuditEntry
    from tests.helpers import csrf_token, sign_in

    user = make.user("staff", email="mona@portal.example", password="correct horse battery")
    make.brand("byd")
    client = app.test_client()
    sign_in(client, "mona@portal.example", "correct horse battery")
    page = client.get("/account/emails")
    assert page.status_code == 200 and "Cases assigned to me" in page.text
    response = client.post("/account/emails", data={
        "csrf_token": csrf_token(page.text), "locale": "de", "new_cases": "y",
        "assignments": "y", "countries": ["NO", "SE"], "brands": ["byd"]})
    assert response.status_code == 303
    session.rollback()
    chosen = session.get(StaffAlertChoice, user.id)
    assert (chosen.new_cases, chosen.sla_warnings, chosen.assignments) == (True, False, True)
    assert chosen.countries == ["NO", "SE"] and chosen.brands == ["byd"]
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.emails"))
    assert entry.after["locale"] == "de" and entry.before["locale"] is None
    refused = client.post("/account/emails", data={
        "csrf_token": csrf_token(page.text), "locale": "xx", "countries": ["ZZ"]})
    assert refused.status_code == 422
    session.rollback()
    assert session.get(StaffAlertChoice, user.id).countries == ["NO", "SE"]


def test_the_case_page_shows_each_email_and_why_one_failed(app, client, world, make,
                                                           session, smtp):
    from tests.helpers import sign_in

    smtp.inbox.answer = "550 5.1.1 Mailbox unavailable"
    reference = open_case(client)
    work(app)
    make.user("staff", email="lead@portal.example", password="correct horse battery")
    staff = app.test_client()
    sign_in(staff, "lead@portal.example", "correct horse battery")
    page = staff.get(f"/staff/cases/{reference}").text
    assert "Confirmation to the owner" in page and "Not delivered" in page
    assert "Mailbox unavailable" in page


def test_health_detail_reports_the_outbox(app, client, world, make, session):
    open_case(client)
    token = make.token(make.user("staff"))
    detail = client.get("/healthz?detail=1", headers={"Authorization": f"Bearer {token}"}).json
    assert detail["outbox"]["pending"] == 1 and detail["outbox"]["failed"] == 0
