"""Accounts by email link, through a real SMTP server: an admin's invitation, a forgotten
password, one's own password change and signing out everywhere. Links work once, expire,
and a reset request answers the same whether or not the address has an account."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from service_portal.audit.models import AuditEntry
from service_portal.db import utcnow
from service_portal.notifications.worker import run
from service_portal.users.models import User
from tests.helpers import csrf_token, sign_in
from tests.mail import SmtpServer

BASE = "https://portal.example"
PASSWORD = "correct horse battery"
NEW = "a brand new passphrase"


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, smtp):
    return make_app(SMTP_URL=smtp.url, PUBLIC_BASE_URL=BASE)


@pytest.fixture
def people(make):
    org = make.org("nord-motors")
    return {"admin": make.user("admin", email="admin@example.test", password=PASSWORD),
            "dealer": make.user("dealer", org=org, email="dealer@example.test",
                                password=PASSWORD),
            "staff": make.user("staff", email="staff@example.test", password=PASSWORD),
            "org": org}


def work(app) -> None:
    with app.app_context():
        run(app, once=True, poll_seconds=0)


def link_in(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(re.escape(BASE) + r"(/\S+)", text).group(1)


def post_form(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client.get(path).text), **data})


def signs_in(app, email: str, password: str) -> bool:
    client = app.test_client()
    page = client.get("/login").text
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(page)}).status_code == 302


def test_an_invited_dealer_chooses_a_password_from_the_email(app, people, smtp, session):
    admin = app.test_client()
    sign_in(admin, "admin@example.test", PASSWORD)
    response = post_form(admin, "/admin/users/invite", email="Neu@Example.test",
                         name="Nina Neu", role="dealer", organization="nord-motors",
                         locale="de")
    assert response.status_code == 303
    work(app)
    [message] = smtp.inbox.to("neu@example.test")
    assert message["Subject"] == "Ihr Konto bei Service Portal"
    assert message["Content-Language"] == "de" and "List-Unsubscribe" not in message
    link = link_in(message)
    assert link.startswith("/invitation/")
    visitor = app.test_client()
    assert "neu@example.test" in visitor.get(link).text
    done = post_form(visitor, link, password=NEW, confirm=NEW)
    assert done.status_code == 303
    assert signs_in(app, "neu@example.test", NEW)
    assert visitor.get(link).status_code == 404  # used: the password hash moved on
    session.rollback()
    user = session.scalars(select(User).where(User.email == "neu@example.test")).one()
    assert user.role == "dealer" and user.organization_id == people["org"].id
    actions = [(e.action, e.actor_label) for e in session.scalars(
        select(AuditEntry).where(AuditEntry.entity_id == str(user.id)))]
    assert ("user.invite", "admin@example.test (web)") in actions
    assert ("user.password", "neu@example.test (email link)") in actions


def test_only_admins_invite(app, people):
    for email in ("dealer@example.test", "staff@example.test"):
        client = app.test_client()
        sign_in(client, email, PASSWORD)
        assert client.get("/admin/users/invite").status_code == 403


def test_a_forgotten_password_is_reset_once_by_link(app, people, smtp):
    client = app.test_client()
    known = post_form(client, "/password/forgot", email="dealer@example.test")
    unknown = post_form(client, "/password/forgot", email="nobody@example.test")
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r'name="csrf_token"[^>]*>|nonce-[^"]+|nonce="[^"]+"')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    work(app)
    assert smtp.inbox.to("nobody@example.test") == []
    [message] = smtp.inbox.to("dealer@example.test")
    link = link_in(message)
    assert link.startswith("/password/reset/")
    assert post_form(client, link, password=NEW, confirm="something else").status_code == 422
    assert signs_in(app, "dealer@example.test", PASSWORD)  # nothing changed yet
    assert post_form(client, link, password=NEW, confirm=NEW).status_code == 303
    assert signs_in(app, "dealer@example.test", NEW)
    assert not signs_in(app, "dealer@example.test", PASSWORD)
    assert client.get(link).status_code == 404


def test_a_reset_link_expires_after_two_hours(app, people, smtp):
    client = app.test_client()
    post_form(client, "/password/forgot", email="staff@example.test")
    work(app)
    link = link_in(smtp.inbox.to("staff@example.test")[0])
    with time_machine.travel(utcnow() + timedelta(hours=2, minutes=1)):
        page = client.get(link)
        assert page.status_code == 410 and "expired" in page.text


def test_a_tampered_link_is_refused(app, people):
    assert app.test_client().get("/password/reset/not-a-token").status_code == 404
    assert app.test_client().get("/invitation/WzEsInJlc2V0IiwiYWJjIl0.x.y").status_code == 404


def test_a_disabled_account_gets_no_reset_email(app, people, smtp, session):
    session.rollback()
    user = session.get(User, people["dealer"].id)
    user.active = False
    session.commit()
    post_form(app.test_client(), "/password/forgot", email="dealer@example.test")
    work(app)
    assert smtp.inbox.messages == []


def test_changing_ones_password_keeps_this_session_and_ends_the_others(app, people):
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, "staff@example.test", PASSWORD)
    sign_in(elsewhere, "staff@example.test", PASSWORD)
    wrong = post_form(here, "/account/password", current="not it", password=NEW, confirm=NEW)
    assert wrong.status_code == 422 and "not your current password" in wrong.text
    assert post_form(here, "/account/password", current=PASSWORD, password=NEW,
                     confirm=NEW).status_code == 303
    assert here.get("/account/tokens").status_code == 200
    assert elsewhere.get("/account/tokens").status_code != 200
    assert signs_in(app, "staff@example.test", NEW)


def test_signing_out_everywhere_ends_every_session(app, people):
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        sign_in(browser, "dealer@example.test", PASSWORD)
    page = browsers[0].get("/account/password").text
    form = re.search(r'action="/account/sign-out-everywhere".*?value="([^"]+)"', page, re.S)
    response = browsers[0].post("/account/sign-out-everywhere",
                                data={"csrf_token": form.group(1)})
    assert response.status_code == 303
    assert all(b.get("/account/tokens").status_code != 200 for b in browsers)
