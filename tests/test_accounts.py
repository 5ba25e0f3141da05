"""Accounts under abuse: sign-in timing, progressive delays, session limits, the operator's
commands (password, disable, sign-out), token use and failed-token limits."""

from __future__ import annotations

import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from service_portal.audit.actors import Actor
from service_portal.audit.models import AuditEntry
from service_portal.db import utcnow
from service_portal.security import hash_password
from service_portal.users.models import ApiToken, LoginFailure, User, UserSession
from service_portal.users.throttle import FORGET_AFTER, delay_after, seconds_to_wait

PASSWORD = "correct horse battery staple"
UNLIMITED = "100000 per minute"
#: How the audit log names this test run's `service-portal` commands.
CLI = Actor.command_line().label


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def sign_in(client, email: str, password: str = PASSWORD, address: str = "127.0.0.1"):
    token = csrf(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token, "next": ""},
                       environ_base={"REMOTE_ADDR": address})


def signed_in(client) -> bool:
    return "Sign out" in client.get("/").text


def error_message(page: str) -> str:
    return re.search(r'class="[^"]*error[^"]*"[^>]*>([^<]+)<', page).group(1).strip()


def age_failures(session, seconds: float) -> None:
    """Move the failed sign-ins `seconds` into the past (time moves; nobody sleeps)."""
    session.execute(update(LoginFailure).values(
        last_failed_at=utcnow() - timedelta(seconds=seconds)))
    session.commit()


def audit_actions(session) -> list[tuple[str, str]]:
    session.rollback()
    return [(e.action, e.actor_label) for e in session.scalars(
        select(AuditEntry).order_by(AuditEntry.id))]


# --- the delay rule, on its own ---------------------------------------------------------

@pytest.mark.parametrize("failures, seconds", [
    (0, 0), (4, 0), (5, 1), (6, 2), (7, 4), (13, 256), (14, 300), (10_000, 300)])
def test_delays_grow_after_the_free_failures_and_stop_at_the_cap(failures, seconds):
    assert delay_after(failures, free=5, cap=300) == seconds


def test_failures_are_forgotten_a_day_after_the_last():
    last = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert seconds_to_wait(20, last, last + timedelta(seconds=10), free=5, cap=300) == 290
    assert seconds_to_wait(20, last, last + FORGET_AFTER, free=5, cap=300) == 0


# --- constant-time sign-in --------------------------------------------------------------

def test_sign_in_takes_as_long_for_an_unknown_email_as_for_a_wrong_password(make_app, session):
    """Over HTTP, with argon2 parameters costly enough to dominate a request: the medians
    of interleaved tries differ by less than 20% (before: 8 ms against 208 ms)."""
    app = make_app(ARGON2_TIME_COST=2, ARGON2_MEMORY_KIB=16384, LOGIN_RATE_LIMIT=UNLIMITED,
                   LOGIN_FREE_FAILURES=1000)
    with app.app_context():
        password_hash = hash_password(PASSWORD)
    session.add(User(email="known@x.example", role="staff", password_hash=password_hash))
    session.commit()
    client = app.test_client()
    token = csrf(client.get("/login").text)

    def timed(email: str) -> float:
        start = time.perf_counter()
        response = client.post("/login", data={"email": email, "password": "wrong password!",
                                               "csrf_token": token})
        elapsed = time.perf_counter() - start
        assert response.status_code == 401
        return elapsed

    timed("known@x.example"), timed("nobody@x.example")  # warm up: the dummy hash is made
    known, unknown = [], []
    for _ in range(9):
        known.append(timed("known@x.example"))
        unknown.append(timed("nobody@x.example"))
    slow, fast = max(statistics.median(known), statistics.median(unknown)), \
        min(statistics.median(known), statistics.median(unknown))
    assert slow <= fast * 1.2, (known, unknown)


def test_a_hash_made_with_other_parameters_is_remade_at_sign_in(make_app, session):
    from argon2 import PasswordHasher

    session.add(User(email="old@x.example", role="staff",
                     password_hash=PasswordHasher(time_cost=2, memory_cost=2048,
                                                  parallelism=1).hash(PASSWORD)))
    session.commit()
    assert sign_in(make_app().test_client(), "old@x.example").status_code == 302
    session.rollback()
    assert "m=1024,t=1,p=1" in session.scalars(select(User.password_hash)).one()


# --- progressive delays per account -----------------------------------------------------

def test_wrong_passwords_from_ten_addresses_do_not_lock_the_owner_out(make_app, make, session):
    """Before: ten failures from ten addresses locked the account for ten minutes. Now
    the owner waits at most `LOGIN_MAX_DELAY_SECONDS` and then signs in."""
    make.user("staff", email="victim@x.example", password=PASSWORD)
    client = make_app(LOGIN_MAX_DELAY_SECONDS=60).test_client()
    statuses = [sign_in(client, "victim@x.example", "guess guess!", f"10.0.0.{n}").status_code
                for n in range(10)]
    assert statuses[:5] == [401] * 5 and set(statuses) <= {401, 429}
    age_failures(session, 60)
    assert sign_in(client, "victim@x.example", address="192.0.2.7").status_code == 302


def test_an_account_that_must_wait_gets_429_with_retry_after_whether_or_not_it_exists(
        make_app, make, session):
    make.user("staff", email="real@x.example", password=PASSWORD)
    client = make_app(LOGIN_FREE_FAILURES=1, LOGIN_RATE_LIMIT=UNLIMITED).test_client()
    answers = {}
    for email in ("real@x.example", "ghost@x.example"):
        for _ in range(4):  # failures 1..4; time moves past each wait
            assert sign_in(client, email, "guess guess!").status_code == 401
            age_failures(session, 300)
        session.execute(update(LoginFailure).values(last_failed_at=utcnow()))
        session.commit()
        response = sign_in(client, email, PASSWORD)  # the right password, too early
        answers[email] = (response.status_code, response.headers.get("Retry-After"),
                          error_message(response.text))
    assert answers["real@x.example"] == answers["ghost@x.example"]
    status, retry_after, message = answers["real@x.example"]
    assert status == 429 and 1 <= int(retry_after) <= 8  # 2 ** (4 - 1) seconds
    assert "Too many failed sign-ins" in message
    german = client.post("/login", data={"email": "real@x.example", "password": PASSWORD,
                                          "csrf_token": csrf(client.get("/login").text)},
                         headers={"Accept-Language": "de"})
    assert german.status_code == 429 and "Too many" not in error_message(german.text)


def test_attempts_during_the_wait_neither_count_nor_lengthen_it(make_app, make, session):
    make.user("staff", email="patient@x.example", password=PASSWORD)
    client = make_app(LOGIN_FREE_FAILURES=1).test_client()
    assert sign_in(client, "patient@x.example", "guess guess!").status_code == 401
    session.execute(update(LoginFailure).values(last_failed_at=utcnow()))
    session.commit()
    for _ in range(5):
        assert sign_in(client, "patient@x.example", "guess guess!").status_code == 429
    session.rollback()
    assert session.scalars(select(LoginFailure.failures)).one() == 1


def test_the_right_password_after_the_wait_signs_in_and_forgets_the_failures(
        make_app, make, session):
    make.user("staff", email="back@x.example", password=PASSWORD)
    client = make_app(LOGIN_FREE_FAILURES=2).test_client()
    for _ in range(3):
        sign_in(client, "back@x.example", "guess guess!")
        age_failures(session, 300)
    assert sign_in(client, "back@x.example").status_code == 302
    session.rollback()
    assert session.scalars(select(LoginFailure)).all() == []


def test_delays_are_shared_by_every_worker(make_app, make, session):
    """Two apps (as two workers, each with its own in-memory rate limits) see the same
    delay: it is kept in the database."""
    make.user("staff", email="shared@x.example", password=PASSWORD)
    first = make_app(LOGIN_FREE_FAILURES=1).test_client()
    second = make_app(LOGIN_FREE_FAILURES=1).test_client()
    assert sign_in(first, "shared@x.example", "guess guess!").status_code == 401
    session.execute(update(LoginFailure).values(last_failed_at=utcnow()))
    session.commit()
    assert sign_in(second, "shared@x.example").status_code == 429


def test_the_address_limit_stays(make_app, make):
    make.user("staff", email="a@x.example", password=PASSWORD)
    client = make_app(LOGIN_RATE_LIMIT="3 per minute").test_client()
    for n in range(3):
        assert sign_in(client, f"user{n}@x.example", "guess guess!").status_code == 401
    response = sign_in(client, "a@x.example")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


# --- session lifetime -------------------------------------------------------------------

@pytest.mark.parametrize("role, idle_minutes, signed_in_after", [
    ("staff", 29, True), ("staff", 31, False), ("admin", 31, False),
    ("dealer", 31, True), ("dealer", 479, True), ("dealer", 481, False),
])
def test_sessions_end_after_the_idle_timeout(client, make, session, role, idle_minutes,
                                             signed_in_after):
    make.user(role, org=make.org() if role == "dealer" else None, email="idle@x.example",
              password=PASSWORD)
    assert sign_in(client, "idle@x.example").status_code == 302
    session.execute(update(UserSession).values(
        last_seen_at=utcnow() - timedelta(minutes=idle_minutes)))
    session.commit()
    assert signed_in(client) is signed_in_after


def test_a_busy_session_ends_at_its_absolute_lifetime(client, make, session):
    make.user("staff", email="busy@x.example", password=PASSWORD)
    sign_in(client, "busy@x.example")
    session.execute(update(UserSession).values(created_at=utcnow() - timedelta(hours=12, minutes=1),
                                               last_seen_at=utcnow()))
    session.commit()
    assert not signed_in(client)


def test_session_limits_are_settings(make_app, make, session):
    make.user("staff", email="short@x.example", password=PASSWORD)
    client = make_app(SESSION_LIFETIME_HOURS=1, STAFF_SESSION_IDLE_MINUTES=5).test_client()
    sign_in(client, "short@x.example")
    session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=6)))
    session.commit()
    assert not signed_in(client)
    sign_in(client, "short@x.example")
    session.execute(update(UserSession).where(UserSession.ended_at.is_(None))
                    .values(created_at=utcnow() - timedelta(minutes=61)))
    session.commit()
    assert not signed_in(client)


def test_the_session_cookie_lives_as_long_as_the_session_may(client, make):
    from email.utils import parsedate_to_datetime

    make.user("staff", email="cookie@x.example", password=PASSWORD)
    response = sign_in(client, "cookie@x.example")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    assert expires - datetime.now(UTC) <= timedelta(hours=12, minutes=1)  # not 31 days


# --- the operator's commands ------------------------------------------------------------

def test_set_password_from_stdin_ends_sessions_and_is_audited(cli, client, make, session):
    make.user("staff", email="reset@x.example", password=PASSWORD)
    sign_in(client, "reset@x.example")
    result = cli("user", "set-password", "Reset@x.example", "--password-stdin",
                 input="a brand new secret\n")
    assert result.exit_code == 0, result.output
    assert not signed_in(client)
    assert sign_in(client, "reset@x.example").status_code == 401
    assert sign_in(client, "reset@x.example", "a brand new secret").status_code == 302
    assert audit_actions(session) == [("user.password", CLI)]


def test_set_password_prompts_twice(cli, client, make):
    make.user("staff", email="prompt@x.example", password=PASSWORD)
    result = cli("user", "set-password", "prompt@x.example",
                 input="another secret!\nanother secret!\n")
    assert result.exit_code == 0, result.output
    assert sign_in(client, "prompt@x.example", "another secret!").status_code == 302


def test_set_password_keeps_the_rules(cli, make, session):
    make.user("staff", email="rules@x.example", password=PASSWORD)
    result = cli("user", "set-password", "rules@x.example", "--password-stdin", input="short\n")
    assert result.exit_code != 0 and "8 to 128 characters" in result.output
    assert audit_actions(session) == []


def test_a_disabled_user_has_no_session_sign_in_or_token(cli, client, make, session):
    user = make.user("dealer", make.org(), email="gone@x.example", password=PASSWORD)
    token = make.token(user)
    sign_in(client, "gone@x.example")
    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/dealer/shops", headers=api).status_code == 200
    assert cli("user", "disable", "gone@x.example").exit_code == 0
    assert not signed_in(client)
    assert sign_in(client, "gone@x.example").status_code == 401
    assert client.get("/api/v1/dealer/shops", headers=api).status_code == 401
    assert cli("user", "enable", "gone@x.example").exit_code == 0
    assert client.get("/api/v1/dealer/shops", headers=api).status_code == 200
    assert sign_in(client, "gone@x.example").status_code == 302
    assert audit_actions(session) == [("user.disable", CLI),
                                      ("user.enable", CLI)]


def test_sign_out_ends_every_session_of_the_user(cli, make_app, make, session):
    make.user("staff", email="many@x.example", password=PASSWORD)
    make.user("staff", email="other@x.example", password=PASSWORD)
    app = make_app()
    laptop, phone, colleague = app.test_client(), app.test_client(), app.test_client()
    for browser in (laptop, phone):
        sign_in(browser, "many@x.example")
    sign_in(colleague, "other@x.example")
    result = cli("user", "sign-out", "many@x.example")
    assert result.exit_code == 0 and "2" in result.output
    assert not signed_in(laptop) and not signed_in(phone) and signed_in(colleague)
    assert audit_actions(session) == [("user.sign_out", CLI)]


@pytest.mark.parametrize("command", [("disable",), ("enable",), ("sign-out",),
                                     ("set-password", "--password-stdin")])
def test_commands_for_an_unknown_email_fail_and_change_nothing(cli, session, command):
    result = cli("user", command[0], "nobody@x.example", *command[1:], input="long enough!\n")
    assert result.exit_code == 1 and "No user with this email" in result.output
    assert audit_actions(session) == []


# --- tokens: last use, failure limits ---------------------------------------------------

def test_token_use_is_written_at_most_once_a_minute(client, make, session):
    token = make.token(make.user("dealer", make.org()))
    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/dealer/shops", headers=api).status_code == 200
    session.rollback()
    first = session.scalars(select(ApiToken.last_used_at)).one()
    assert first is not None and utcnow() - first < timedelta(minutes=1)
    client.get("/api/v1/dealer/shops", headers=api)
    session.rollback()
    assert session.scalars(select(ApiToken.last_used_at)).one() == first
    session.execute(update(ApiToken).values(last_used_at=first - timedelta(minutes=2)))
    session.commit()
    client.get("/api/v1/dealer/shops", headers=api)
    session.rollback()
    assert session.scalars(select(ApiToken.last_used_at)).one() > first


def test_token_use_by_a_write_is_written_too(client, make, session):
    org = make.org()
    shop = make.shop(org)
    make.stock(shop, make.part(make.brand(), "P-1"), qty=5)
    token = make.token(make.user("dealer", org))
    response = client.patch(f"/api/v1/dealer/shops/{shop.id}/stock/P-1",
                            json={"qty_delta": -1},
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    session.rollback()
    assert session.scalars(select(ApiToken.last_used_at)).one() is not None


def test_the_token_page_shows_when_each_token_was_last_used(client, make):
    user = make.user("dealer", make.org(), email="tokens@x.example", password=PASSWORD)
    token = make.token(user, name="warehouse sync")
    sign_in(client, "tokens@x.example")
    assert "Last used" in client.get("/account/tokens").text
    row = re.search(r"warehouse sync.*?</tr>", client.get("/account/tokens").text, re.S).group(0)
    assert "Never" in row
    client.get("/api/v1/dealer/shops", headers={"Authorization": f"Bearer {token}"})
    row = re.search(r"warehouse sync.*?</tr>", client.get("/account/tokens").text, re.S).group(0)
    assert "Never" not in row and str(utcnow().year) in row


def test_failed_tokens_count_per_address_across_every_bearer_route(make_app, make):
    """Failures on the dealer API, the staff API and the staff case view draw on one
    allowance per address; another address keeps its own."""
    client = make_app(TOKEN_FAILURE_LIMIT="3 per minute").test_client()
    bad = {"Authorization": "Bearer spt_not-a-token"}
    assert client.get("/api/v1/dealer/shops", headers=bad).status_code == 401
    assert client.get("/api/v1/cases", headers=bad).status_code == 401
    assert client.get("/api/v1/cases/SP-NOPE", headers=bad).status_code == 401
    response = client.put("/api/v1/bulletins/TSB-1", json={}, headers=bad)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert client.get("/api/v1/cases/SP-NOPE", headers=bad).status_code == 429
    elsewhere = client.get("/api/v1/dealer/shops", headers=bad,
                           environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert elsewhere.status_code == 401


def test_good_tokens_do_not_count_as_failures(make_app, make):
    token = make.token(make.user("dealer", make.org()))
    client = make_app(TOKEN_FAILURE_LIMIT="2 per minute").test_client()
    for _ in range(4):
        assert client.get("/api/v1/dealer/shops",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 200
