"""Recall alerts: an owner subscribes for a car (double opt-in), and a bulletin published for
that car reaches them, once per text, through the outbox and a real SMTP server on loopback;
a car of another year, model, brand or country hears nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from service_portal.db import utcnow
from service_portal.notifications.models import AlertSubscription, Notification
from service_portal.notifications.worker import run
from tests.helpers import csrf_token
from tests.mail import SmtpServer

BASE = "https://portal.example"
BYD_2023_VIN = "LC0CE4CB9P0000002"  # BYD (NHTSA vPIC WMI LC0), model year P = 2023
LINK = re.compile(re.escape(BASE) + r"(/[^\s\"<>]+)")


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, smtp):
    return make_app(SMTP_URL=smtp.url, PUBLIC_BASE_URL=BASE,
                    MAIL_FROM="Portal <help@portal.example>")


@pytest.fixture
def world(make):
    byd, mg = make.brand("byd", name="BYD"), make.brand("mg", name="MG")
    make.model(byd, "byd-atto-3", name="Atto 3", year_from=2022)
    make.model(byd, "byd-dolphin", name="Dolphin", year_from=2021)
    make.model(mg, "mg-mg4", name="MG4", year_from=2022)
    return {"staff": make.token(make.user("staff"))}


def work(app) -> int:
    with app.app_context():
        return run(app, once=True, poll_seconds=0)


def body_of(message, kind: str = "plain") -> str:
    return message.get_body(preferencelist=(kind,)).get_content()


def link_in(message, path: str) -> str:
    """The path of the message's link that starts with `path`."""
    found = [p for p in LINK.findall(body_of(message)) if p.startswith(path)]
    assert found, f"no {path} link in the message"
    return found[0]


def ask(client, **changes):
    body = {"model": "byd-atto-3", "year": 2023, "country": "DE",
            "email": "owner@mail.example", "consent": True} | changes
    return client.post("/api/v1/alerts", json={k: v for k, v in body.items() if v is not None})


def subscribe(client, app, smtp, **changes) -> str:
    """Ask, deliver, open the confirmation link; the address."""
    email = changes.get("email", "owner@mail.example")
    assert ask(client, **changes).status_code == 202
    work(app)
    message = smtp.inbox.to(email)[-1]
    assert client.get(link_in(message, "/alerts/confirm/")).status_code == 200
    return email


def bulletin(**changes) -> dict:
    base = {"code": "BYD-R-2026-001", "kind": "recall", "brand": "byd",
            "models": ["byd-atto-3"], "year_from": 2022, "year_to": 2023, "countries": ["DE"],
            "severity": "high", "published": "2026-11-01",
            "texts": {"en": {"title": "Coolant hose clamp", "summary": "Check the clamp.",
                             "body": "Workshops replace the clamp."},
                      "de": {"title": "Kühlmittelschlauchschelle", "summary": "Prüfen.",
                             "body": "Die Werkstatt tauscht die Schelle."}}}
    return base | changes


def publish(client, world, method: str = "post", **changes):
    data = bulletin(**changes)
    path = "/api/v1/bulletins" + ("" if method == "post" else f"/{data['code']}")
    response = client.open(path, method=method.upper(), json=data,
                           headers={"Authorization": f"Bearer {world['staff']}"})
    assert response.status_code in (200, 201), response.json
    return response


def new_mail(smtp, mark: int) -> list:
    """What the server accepted after it held `mark` messages."""
    return smtp.inbox.messages[mark:]


def subscriptions(session) -> list[AlertSubscription]:
    session.rollback()
    return session.scalars(select(AlertSubscription).order_by(AlertSubscription.id)).all()


def test_subscribing_sends_a_confirmation_whose_link_confirms_once(app, client, world, smtp,
                                                                   session):
    response = ask(client, locale="de")
    assert response.status_code == 202
    assert response.json["status"] == "pending_confirmation"
    [pending] = subscriptions(session)
    assert pending.confirmed_at is None and pending.locale == "de" and pending.country == "DE"
    work(app)
    [message] = smtp.inbox.to("owner@mail.example")
    assert message["Content-Language"] == "de"
    assert "List-Unsubscribe" not in message  # nothing to stop yet
    confirm = link_in(message, "/alerts/confirm/")
    page = client.get(confirm, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "BYD Atto 3, model year 2023" in page.text and "byd-atto-3" not in page.text
    assert "Germany" in page.text and page.headers["Cache-Control"] == "no-store"
    [confirmed] = subscriptions(session)
    assert confirmed.confirmed_at is not None
    again = client.get(confirm, headers={"Accept-Language": "en"})
    assert again.status_code == 200 and "already confirmed" in again.text
    assert subscriptions(session)[0].confirmed_at == confirmed.confirmed_at


def test_the_answer_never_tells_whether_an_address_is_known(app, client, world, smtp,
                                                            session):
    first = ask(client)
    subscribe(client, app, smtp)  # asks again: unconfirmed, so a second link goes out
    assert len(smtp.inbox.to("owner@mail.example")) == 2
    again = ask(client)
    assert again.status_code == 202 and again.json == first.json
    work(app)
    assert len(smtp.inbox.to("owner@mail.example")) == 2  # confirmed: no more links
    assert len(subscriptions(session)) == 1


def test_a_vin_stands_for_the_car(app, client, world, smtp, session):
    assert ask(client, model=None, year=None, vin=BYD_2023_VIN.lower()).status_code == 202
    [row] = subscriptions(session)
    assert (row.vin, row.model_id, row.model_year) == (BYD_2023_VIN, None, 2023)
    work(app)
    page = client.get(link_in(smtp.inbox.messages[0], "/alerts/confirm/"))
    assert "BYD, model year 2023" in page.text and BYD_2023_VIN in page.text


@pytest.mark.parametrize("changes, code, field", [
    ({"consent": False}, "invalid_body", "consent"),
    ({"consent": None}, "invalid_body", "consent"),
    ({"email": "not an address"}, "invalid_body", "email"),
    ({"model": None, "year": None}, "missing_vehicle", "vin"),
    ({"year": None}, "missing_year", "year"),
    ({"model": "byd-nope"}, "unknown_model", "model"),
    ({"vin": "NOT-A-VIN"}, "invalid_vin", "vin"),
    ({"model": None, "vin": BYD_2023_VIN, "year": 2021}, "vin_mismatch", "year"),
    ({"model": "mg-mg4", "vin": BYD_2023_VIN}, "vin_mismatch", "model"),
    ({"country": "XX"}, "invalid_body", "country"),
    ({"locale": "xx"}, "invalid_body", "locale"),
    ({"colour": "red"}, "invalid_body", "colour"),
])
def test_invalid_requests_are_422_and_store_nothing(app, client, world, session, changes, code,
                                                    field):
    response = ask(client, **changes)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == code and error["field"] == field
    assert subscriptions(session) == []
    assert session.scalars(select(Notification)).all() == []


def test_a_link_older_than_72_hours_is_refused(app, client, world, smtp, session):
    ask(client)
    work(app)
    confirm = link_in(smtp.inbox.messages[0], "/alerts/confirm/")
    with time_machine.travel(utcnow() + timedelta(hours=72, minutes=1)):
        page = client.get(confirm)
    assert page.status_code == 410 and "expired" in page.text
    assert subscriptions(session)[0].confirmed_at is None
    assert client.get(confirm[:-3] + "abc").status_code == 404  # tampered


def test_the_worker_forgets_subscriptions_left_unconfirmed(app, client, world, smtp, session):
    ask(client)
    subscribe(client, app, smtp, email="kept@mail.example")
    with time_machine.travel(utcnow() + timedelta(hours=73)):
        work(app)
    assert [s.email for s in subscriptions(session)] == ["kept@mail.example"]


def test_a_bulletin_reaches_exactly_the_subscribers_whose_car_it_applies_to(
        app, client, world, smtp, session):
    told = [subscribe(client, app, smtp, email="match@mail.example", locale="de"),
            subscribe(client, app, smtp, email="anywhere@mail.example", country=None),
            subscribe(client, app, smtp, email="vin@mail.example", model=None, year=None,
                      vin=BYD_2023_VIN, locale="es")]
    for email, changes in (("older@mail.example", {"year": 2021}),
                           ("dolphin@mail.example", {"model": "byd-dolphin"}),
                           ("mg@mail.example", {"model": "mg-mg4"}),
                           ("norway@mail.example", {"country": "NO"})):
        subscribe(client, app, smtp, email=email, **changes)
    assert ask(client, email="unconfirmed@mail.example").status_code == 202
    work(app)
    mark = len(smtp.inbox.messages)

    publish(client, world)
    work(app)
    alerts = {m["To"]: m for m in new_mail(smtp, mark)}
    assert len(new_mail(smtp, mark)) == 3 and sorted(alerts) == sorted(told)

    german = alerts["match@mail.example"]
    assert german["Content-Language"] == "de"
    assert "Kühlmittelschlauchschelle" in german["Subject"]
    assert "Kühlmittelschlauchschelle" in body_of(german)
    assert "(in English)" not in body_of(german)
    spanish = alerts["vin@mail.example"]
    assert "Coolant hose clamp (en inglés)" in body_of(spanish)  # English fallback, marked
    assert 'lang="en"' in body_of(spanish, "html")
    text = body_of(alerts["anywhere@mail.example"])
    assert "BYD Atto 3, model year 2023" in text and "BYD-R-2026-001" in text
    assert f"{BASE}/bulletins/BYD-R-2026-001" in text
    assert f"{BASE}/?brand=byd&service=recall-work&authorization=authorized" in text
    assert german["List-Unsubscribe"].startswith(f"<{BASE}/alerts/unsubscribe/")
    assert german["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_bulletin_for_every_model_and_country_reaches_the_brand_of_that_year(
        app, client, world, smtp):
    for email, changes in (("atto@mail.example", {}), ("dolphin@mail.example",
                                                      {"model": "byd-dolphin"}),
                           ("norway@mail.example", {"country": "NO"}),
                           ("older@mail.example", {"year": 2021}),
                           ("mg@mail.example", {"model": "mg-mg4"})):
        subscribe(client, app, smtp, email=email, **changes)
    mark = len(smtp.inbox.messages)
    publish(client, world, models=[], countries=[], year_from=2023, year_to=None)
    work(app)
    assert sorted(m["To"] for m in new_mail(smtp, mark)) == [
        "atto@mail.example", "dolphin@mail.example", "norway@mail.example"]


def test_republishing_sends_only_a_new_text_and_only_once(app, client, world, smtp):
    subscribe(client, app, smtp, email="en@mail.example")
    subscribe(client, app, smtp, email="de@mail.example", locale="de")
    mark = len(smtp.inbox.messages)
    publish(client, world)
    work(app)
    assert len(new_mail(smtp, mark)) == 2

    publish(client, world, method="put")  # the same bulletin again
    publish(client, world, method="put", severity="critical")  # the same texts
    work(app)
    assert len(new_mail(smtp, mark)) == 2

    texts = bulletin()["texts"] | {"en": {"title": "Coolant hose clamp and hose",
                                          "summary": "Check the clamp and the hose.",
                                          "body": "Workshops replace both."}}
    publish(client, world, method="put", texts=texts)
    publish(client, world, method="put", texts=texts, severity="high")
    work(app)
    [newer] = new_mail(smtp, mark + 2)  # the German text did not change
    assert newer["To"] == "en@mail.example"
    assert "Coolant hose clamp and hose" in newer["Subject"]


def test_a_refused_bulletin_alerts_nobody(app, client, world, smtp):
    subscribe(client, app, smtp)
    mark = len(smtp.inbox.messages)
    response = client.post("/api/v1/bulletins", json=bulletin(models=["mg-mg4"]),
                           headers={"Authorization": f"Bearer {world['staff']}"})
    assert response.status_code == 422
    work(app)
    assert new_mail(smtp, mark) == []


def test_one_click_unsubscribe_deletes_the_subscription(app, client, world, smtp, session):
    subscribe(client, app, smtp)
    publish(client, world)
    work(app)
    alert = smtp.inbox.messages[-1]
    unsubscribe = alert["List-Unsubscribe"].strip("<>").removeprefix(BASE)
    assert link_in(alert, "/alerts/unsubscribe/") == unsubscribe
    page = client.get(unsubscribe)
    assert page.status_code == 200 and "BYD Atto 3, model year 2023" in page.text
    assert len(subscriptions(session)) == 1  # asking changes nothing
    # What a mail program sends (RFC 8058): no cookie, no CSRF token.
    response = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert subscriptions(session) == []
    again = client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and "already stopped" in again.text
    assert client.post("/alerts/unsubscribe/forged").status_code == 404
    publish(client, world, method="put", texts={"en": {"title": "New", "summary": "New.",
                                                       "body": "New."}})
    count = len(smtp.inbox.messages)
    work(app)
    assert len(smtp.inbox.messages) == count


def test_too_many_requests_for_one_address_are_429_with_retry_after(make_app, smtp, world):
    client = make_app(SMTP_URL=smtp.url, ALERT_RATE_LIMIT="2 per hour").test_client()
    for _n in range(2):
        assert ask(client).status_code == 202
    refused = ask(client)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 3601
    assert ask(client, email="other@mail.example").status_code == 202


def test_privacy_export_lists_subscriptions_and_erasure_removes_them(app, client, world, smtp,
                                                                     session):
    subscribe(client, app, smtp)
    ask(client, email="other@mail.example")
    staff = {"Authorization": f"Bearer {world['staff']}"}
    data = client.post("/api/v1/privacy/export", json={"email": "owner@mail.example"},
                       headers=staff).json
    assert [(a["model_year"], a["country"], a["confirmed"]) for a in data["recall_alerts"]] \
        == [(2023, "DE", True)]
    assert client.post("/api/v1/privacy/erase", json={"email": "owner@mail.example"},
                       headers=staff).status_code == 200
    assert [s.email for s in subscriptions(session)] == ["other@mail.example"]
    data = client.post("/api/v1/privacy/export", json={"email": "owner@mail.example"},
                       headers=staff).json
    assert data["recall_alerts"] == []


def test_the_my_car_page_form_subscribes_end_to_end(app, client, world, smtp, session):
    page = client.get("/vehicle?model=byd-atto-3&year=2023&country=DE")
    assert page.status_code == 200
    assert 'action="/alerts"' in page.text and 'for="email"' in page.text
    form = {"csrf_token": csrf_token(page.text), "model": "byd-atto-3", "year": "2023",
            "vin": "", "country": "DE", "locale": "en", "email": "form@mail.example"}
    refused = client.post("/alerts", data=form)  # no consent
    assert refused.status_code == 422 and "Please agree" in refused.text
    assert subscriptions(session) == []
    response = client.post("/alerts", data=form | {"consent": "y"})
    assert response.status_code == 303 and response.headers["Location"] == "/alerts/sent"
    assert "Check your inbox" in client.get("/alerts/sent").text
    work(app)
    [message] = smtp.inbox.to("form@mail.example")
    assert client.get(link_in(message, "/alerts/confirm/")).status_code == 200
    [row] = subscriptions(session)
    assert row.confirmed_at is not None and row.country == "DE" and row.model_year == 2023


def test_the_form_keeps_the_car_of_a_vin_page(app, client, world):
    page = client.get(f"/vehicle?vin={BYD_2023_VIN}")
    assert page.status_code == 200 and f'value="{BYD_2023_VIN}"' in page.text
    assert "Enter the VIN" not in page.text
    brand_only = client.get("/vehicle?model=byd-atto-3")
    assert 'action="/alerts"' not in brand_only.text
