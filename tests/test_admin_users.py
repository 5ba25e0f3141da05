"""Admin pages for accounts: find users, set a password, disable and enable, end sessions;
each action audited, refused to other roles, and felt at once by the user concerned."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from service_portal.audit.models import AuditEntry
from service_portal.users.models import User
from tests.helpers import csrf_token, sign_in

PASSWORD = "correct horse battery"


@pytest.fixture
def people(make):
    org = make.org("nord-motors")
    return {"admin": make.user("admin", email="admin@example.test", password=PASSWORD),
            "dealer": make.user("dealer", org=org, email="dealer@example.test",
                                password=PASSWORD),
            "staff": make.user("staff", email="staff@example.test", password=PASSWORD)}


def _client(app, email):
    client = app.test_client()
    sign_in(client, email, PASSWORD)
    return client


def _act(client, user_id, action, data=None):
    page = client.get(f"/admin/users/{user_id}").text
    return client.post(f"/admin/users/{user_id}/{action}",
                       data={"csrf_token": csrf_token(page), **(data or {})})


def _audit(session, action):
    session.rollback()
    return session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()


def _signed_in(client) -> bool:
    return client.get("/account/tokens").status_code == 200


def _emails_in(page: str) -> list[str]:
    return re.findall(r'/admin/users/\d+"><bdi>([^<]+)</bdi>', page)


def test_only_admins_reach_the_admin_area(app, people):
    assert app.test_client().get("/admin/users").status_code in (302, 401)
    for email in ("dealer@example.test", "staff@example.test"):
        client = _client(app, email)
        assert client.get("/admin/users").status_code == 403
        assert client.post(f"/admin/users/{people['admin'].id}/disable").status_code in (
            400, 403)


def test_the_user_list_searches_filters_and_sorts(app, people):
    admin = _client(app, "admin@example.test")
    page = admin.get("/admin/users").text
    assert _emails_in(page) == ["admin@example.test", "dealer@example.test",
                                "staff@example.test"]
    assert "Nord-Motors" in page and "Dealer" in page and "Support staff" in page
    assert _emails_in(admin.get("/admin/users?sort=-email").text) == [
        "staff@example.test", "dealer@example.test", "admin@example.test"]
    assert _emails_in(admin.get("/admin/users?q=DEAL").text) == ["dealer@example.test"]
    assert _emails_in(admin.get("/admin/users?role=staff").text) == ["staff@example.test"]
    assert _emails_in(admin.get("/admin/users?q=%25").text) == []


@pytest.mark.parametrize("query", ["role=boss", "sort=password_hash", "offset=-1",
                                   "state=maybe", "colour=red"])
def test_a_bad_list_parameter_is_a_clear_400(app, people, query):
    response = _client(app, "admin@example.test").get(f"/admin/users?{query}")
    assert response.status_code == 400


def test_disabling_a_user_ends_their_sessions_and_is_audited(app, people, session):
    dealer = _client(app, "dealer@example.test")
    admin = _client(app, "admin@example.test")
    response = _act(admin, people["dealer"].id, "disable")
    assert response.status_code == 303
    assert "1 browser session ended" in admin.get(response.location).text
    assert not _signed_in(dealer)
    refused = app.test_client()
    page = refused.get("/login").text
    assert refused.post("/login", data={"email": "dealer@example.test", "password": PASSWORD,
                                        "csrf_token": csrf_token(page)}).status_code == 401
    [entry] = _audit(session, "user.disable")
    assert entry.entity_id == str(people["dealer"].id)
    assert "admin@example.test" in entry.actor_label
    assert entry.before == {"active": True}
    assert entry.after["active"] is False and entry.after["sessions_ended"] == 1

    assert _act(admin, people["dealer"].id, "enable").status_code == 303
    assert _signed_in(_client(app, "dealer@example.test"))
    assert len(_audit(session, "user.enable")) == 1


def test_an_admin_cannot_disable_themselves(app, people, session):
    admin = _client(app, "admin@example.test")
    response = _act(admin, people["admin"].id, "disable")
    assert "You cannot disable your own account." in admin.get(response.location).text
    session.rollback()
    assert session.get(User, people["admin"].id).active
    assert _audit(session, "user.disable") == []


def test_a_new_password_works_and_signs_the_user_out(app, people, session):
    dealer = _client(app, "dealer@example.test")
    admin = _client(app, "admin@example.test")
    new = "a brand new passphrase"
    response = _act(admin, people["dealer"].id, "password",
                    {"password": new, "confirm": new})
    assert response.status_code == 303
    assert not _signed_in(dealer)
    sign_in(app.test_client(), "dealer@example.test", new)
    [entry] = _audit(session, "user.password")
    assert new not in repr(entry.after) and entry.after == {"sessions_ended": 1}


@pytest.mark.parametrize("password, confirm, message", [
    ("short", "short", "A password has 8 to"),
    ("a brand new passphrase", "another passphrase", "The two passwords differ."),
])
def test_a_refused_password_says_why_and_changes_nothing(app, people, session, password,
                                                         confirm, message):
    admin = _client(app, "admin@example.test")
    session.rollback()
    before = session.get(User, people["dealer"].id).password_hash
    response = _act(admin, people["dealer"].id, "password",
                    {"password": password, "confirm": confirm})
    assert response.status_code == 422
    assert message in response.text
    session.rollback()
    session.expire_all()
    assert session.get(User, people["dealer"].id).password_hash == before
    assert _signed_in(_client(app, "dealer@example.test"))


def test_ending_sessions_signs_the_user_out_everywhere(app, people, session):
    browsers = [_client(app, "staff@example.test") for _ in range(2)]
    admin = _client(app, "admin@example.test")
    response = _act(admin, people["staff"].id, "sign-out")
    assert "2 browser sessions ended" in admin.get(response.location).text
    assert not any(_signed_in(b) for b in browsers)
    [entry] = _audit(session, "user.sign_out")
    assert entry.after == {"sessions_ended": 2}


def test_an_action_without_its_csrf_token_changes_nothing(app, people, session):
    admin = _client(app, "admin@example.test")
    response = admin.post(f"/admin/users/{people['dealer'].id}/disable")
    assert response.status_code == 400
    session.rollback()
    assert session.get(User, people["dealer"].id).active


def test_an_unknown_user_is_a_404(app, people):
    admin = _client(app, "admin@example.test")
    assert admin.get("/admin/users/999999").status_code == 404
    page = admin.get(f"/admin/users/{people['dealer'].id}").text
    assert admin.post("/admin/users/999999/disable",
                      data={"csrf_token": csrf_token(page)}).status_code == 404
