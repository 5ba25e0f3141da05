"""The staff queue as a help desk: sorting, select filters, relative due times, saved
filters, bulk changes; canned replies and distinct notes on the case page; landing pages."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from sqlalchemy import select

from service_portal.audit.actors import Actor
from service_portal.cases.canned import save_reply, upsert_canned_replies
from service_portal.cases.models import Case, CaseEvent, SavedFilter
from service_portal.cases.schemas import CasePatch, CaseRequest
from service_portal.cases.services import change_case, open_case
from service_portal.cases.workflow import DEFAULT_SLA_HOURS
from tests.helpers import csrf_token, sign_in

PASSWORD = "correct horse battery staple"
STAFF = "agent@portal.example"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
REFERENCE = re.compile(r"SP-\d{4}-[0-9A-Z]{8}")


@pytest.fixture
def world(make, session):
    byd = make.brand("byd", name="BYD")
    make.model(byd, "byd-atto-3", name="Atto 3")
    mg = make.brand("mg", name="MG")
    make.model(mg, "mg-mg4", name="MG4")
    service = make.service("hv-battery")
    shop = make.shop(brands=[(byd, "authorized")], services=[service], name="Fjord EV Service")
    make.user("staff", email=STAFF, password=PASSWORD)
    make.user("staff", email="second@portal.example", password=PASSWORD)
    return {"shop": shop}


@pytest.fixture
def new_case(session, world):
    """Open a case through the service (at `at`, default START) and commit it."""

    def make_case(*, model: str = "byd-atto-3", country: str = "DE", locale: str = "en",
                  at: datetime = START, name: str = "Ingrid Example", **patch) -> str:
        request = CaseRequest.model_validate({
            "name": name, "email": "ingrid@mail.example", "model": model, "year": 2023,
            "country": country, "service": "hv-battery", "locale": locale, "consent": True,
            "description": "Battery warning light after charging."})
        case = open_case(session, request, hours=DEFAULT_SLA_HOURS, now=at, locale=locale)
        if patch:
            change_case(session, case, CasePatch.model_validate({"version": 1, **patch}),
                        actor=Actor.command_line("test"), hours=DEFAULT_SLA_HOURS, now=at)
        session.commit()
        return case.reference

    return make_case


@pytest.fixture
def staff(app, world):
    client = app.test_client()
    sign_in(client, STAFF, PASSWORD)
    return client


def row_order(page: str) -> list[str]:
    """The references of the queue's rows, top to bottom."""
    body = page.split("<tbody>", 1)[1]
    return list(dict.fromkeys(REFERENCE.findall(body)))


def rows(page: str) -> dict[str, str]:
    return {m.group(0): row for row in re.findall(r"<tr[ >].*?</tr>", page, flags=re.S)
            if (m := REFERENCE.search(row))}


# --- sorting ---------------------------------------------------------------------------

def test_clicking_a_header_sorts_by_it_and_again_reverses(staff, new_case):
    low = new_case(status="triaged", priority="low")
    urgent = new_case(status="triaged", priority="urgent")
    normal = new_case()
    page = staff.get("/staff/cases?sort=priority")
    assert page.status_code == 200
    assert row_order(page.text) == [low, normal, urgent]
    header = re.search(r'<th scope="col" aria-sort="ascending"><a class="sort[^"]*" '
                       r'href="([^"]+)"', page.text)
    assert header and "sort=-priority" in html.unescape(header.group(1))
    reversed_page = staff.get(html.unescape(header.group(1)))
    assert row_order(reversed_page.text) == [urgent, normal, low]
    assert 'aria-sort="descending"' in reversed_page.text


@pytest.mark.parametrize("key", ["reference", "status", "due", "created", "brand", "country"])
def test_every_sortable_column_sorts_both_ways(staff, new_case, key):
    made = [new_case(model="mg-mg4", country="NO", at=START - timedelta(hours=2)),
            new_case(at=START - timedelta(hours=1), status="triaged"),
            new_case(model="mg-mg4", country="SE", at=START)]
    ascending = row_order(staff.get(f"/staff/cases?sort={key}").text)
    descending = row_order(staff.get(f"/staff/cases?sort=-{key}").text)
    assert sorted(ascending) == sorted(made) and ascending != [] and len(ascending) == 3
    if key in ("reference", "due", "created", "status"):
        assert descending == ascending[::-1]


def test_the_brand_column_sorts_by_brand_name(staff, new_case):
    mg = new_case(model="mg-mg4")
    byd = new_case()
    assert row_order(staff.get("/staff/cases?sort=brand").text) == [byd, mg]
    assert row_order(staff.get("/staff/cases?sort=-brand").text) == [mg, byd]


@pytest.mark.parametrize("query", ["sort=owner_email", "sort=--due", "sort=due;drop"])
def test_an_unknown_sort_is_a_translated_400_page(staff, new_case, query):
    new_case()
    response = staff.get(f"/staff/cases?{query}")
    assert response.status_code == 400
    assert "Must be one of reference, priority" in response.text
    german = staff.get(f"/staff/cases?{query}&lang=de")
    assert german.status_code == 400 and "Must be one of" not in german.text


# --- select filters --------------------------------------------------------------------

def test_brand_model_and_country_are_selects_of_what_cases_have(staff, new_case):
    new_case()
    new_case(model="mg-mg4", country="NO")
    page = staff.get("/staff/cases").text
    brand = re.search(r'<select id="f-brand" name="brand">(.*?)</select>', page, re.S).group(1)
    assert '<option value="byd">BYD</option>' in brand and '<option value="mg">MG</option>' in brand
    model = re.search(r'<select id="f-model" name="model">(.*?)</select>', page, re.S).group(1)
    assert '<option value="mg-mg4">MG4</option>' in model
    country = re.search(r'<select id="f-country" name="country">(.*?)</select>', page,
                        re.S).group(1)
    assert '<option value="NO">Norway</option>' in country
    assert 'value="SE"' not in country  # no case there


def test_the_selects_filter_the_queue(staff, new_case):
    byd = new_case()
    mg_norway = new_case(model="mg-mg4", country="NO")
    mg_sweden = new_case(model="mg-mg4", country="SE")
    assert row_order(staff.get("/staff/cases?brand=byd").text) == [byd]
    assert set(row_order(staff.get("/staff/cases?model=mg-mg4").text)) == {mg_norway,
                                                                         mg_sweden}
    assert row_order(staff.get("/staff/cases?brand=mg&country=NO").text) == [mg_norway]
    selected = staff.get("/staff/cases?model=mg-mg4&country=SE&status=&q=").text
    assert '<option value="mg-mg4" selected>' in selected
    assert '<option value="SE" selected>' in selected


def test_a_brand_typed_in_capitals_is_no_longer_an_error(staff, new_case):
    byd = new_case()
    new_case(model="mg-mg4")
    response = staff.get("/staff/cases?brand=BYD")
    assert response.status_code == 200 and row_order(response.text) == [byd]


# --- due times -------------------------------------------------------------------------

def queue_at(app, moment: datetime, query: str = "") -> str:
    """The queue page as a staff member signed in at `moment` sees it then."""
    with time_machine.travel(moment, tick=False):
        client = app.test_client()
        sign_in(client, STAFF, PASSWORD)
        return client.get(f"/staff/cases{query}").text


def test_due_times_read_relative_with_colour_and_an_overdue_count(app, new_case):
    # Normal priority: due 72 h after opening.
    overdue = new_case(at=START - timedelta(hours=74))
    soon = new_case(at=START - timedelta(hours=71, minutes=20))
    later = new_case(at=START - timedelta(hours=69))
    page = queue_at(app, START)
    found = rows(page)
    assert re.search(r'class="due late"[^>]*>Overdue by 2 hr<', found[overdue])
    assert re.search(r'class="due soon"[^>]*>Due in 40 min<', found[soon])
    assert re.search(r'class="due "[^>]*>Due in 3 hr<', found[later])
    assert 'class="breached"' in found[overdue] and 'class="breached"' not in found[later]
    title = re.search(r'class="due late" title="([^"]+)"', found[overdue]).group(1)
    assert title.startswith("Nov 2, 2026") and "2026-" not in title  # absolute, formatted
    assert "1 open case is overdue" in page


def test_due_times_speak_the_readers_language(app, new_case):
    later = new_case(at=START - timedelta(hours=69))
    page = queue_at(app, START, "?lang=de")
    assert "3 Std." in rows(page)[later]


# --- saved filters ---------------------------------------------------------------------

def save(client, name: str, query: str):
    token = csrf_token(client.get("/staff/cases").text)
    return client.post("/staff/queue/filters", data={"csrf_token": token, "name": name,
                                                     "query": query})


def test_a_saved_filter_comes_back_as_a_link_and_can_be_deleted(staff, new_case, session):
    norway = new_case(country="NO")
    new_case()
    saved = save(staff, "Norway, newest", "country=NO&sort=-created&offset=50&lang=de")
    assert saved.status_code == 303
    assert parse_qs(urlsplit(saved.headers["Location"]).query) == {"country": ["NO"],
                                                                   "sort": ["-created"]}
    page = staff.get("/staff/cases").text
    link = re.search(r'<a href="([^"]+)"><bdi>Norway, newest</bdi></a>', page)
    assert link, "the saved filter is listed"
    assert row_order(staff.get(html.unescape(link.group(1))).text) == [norway]
    session.rollback()
    row = session.scalars(select(SavedFilter)).one()
    assert row.query == "country=NO&sort=-created"
    token = csrf_token(page)
    staff.post(f"/staff/queue/filters/{row.id}/delete", data={"csrf_token": token})
    assert "Norway, newest" not in staff.get("/staff/cases").text


def test_saved_filters_are_per_user_and_need_the_csrf_token(app, staff, world, session):
    save(staff, "Mine", "status=new")
    session.rollback()
    mine = session.scalars(select(SavedFilter)).one()
    other = app.test_client()
    sign_in(other, "second@portal.example", PASSWORD)
    page = other.get("/staff/cases").text
    assert "Mine" not in page
    other.post(f"/staff/queue/filters/{mine.id}/delete", data={"csrf_token": csrf_token(page)})
    assert staff.post("/staff/queue/filters", data={"name": "No token"}).status_code == 400
    session.rollback()
    assert session.scalars(select(SavedFilter.name)).all() == ["Mine"]


# --- bulk changes ----------------------------------------------------------------------

def bulk(client, references: list[str], **changes):
    token = csrf_token(client.get("/staff/cases").text)
    return client.post("/staff/cases/bulk", data={"csrf_token": token, "reference": references,
                                                  "query": "sort=due", **changes},
                       follow_redirects=True)


def test_bulk_assign_changes_each_case_with_its_own_event(staff, new_case, session):
    references = [new_case() for _ in range(3)]
    page = bulk(staff, references, assignee=STAFF)
    assert "3 cases changed." in page.text
    session.rollback()
    for reference in references:
        case = session.scalars(select(Case).where(Case.reference == reference)).one()
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                         CaseEvent.kind == "changed")).all()
        assert case.version == 2 and len(events) == 1
        assert events[0].after == {"assignee": STAFF} and events[0].actor_label == f"{STAFF} (web)"


def test_bulk_status_changes_the_allowed_and_reports_the_refused(staff, new_case, session,
                                                                 world):
    first, second = new_case(), new_case()
    stuck = new_case(status="triaged")
    session.rollback()
    case = session.scalars(select(Case).where(Case.reference == stuck)).one()
    change_case(session, case, CasePatch(version=case.version, status="assigned",
                                         shop_id=world["shop"].id),
                actor=Actor.command_line("test"), hours=DEFAULT_SLA_HOURS)
    session.commit()
    page = bulk(staff, [first, stuck, second], status="triaged", assignee="")
    assert "2 cases changed." in page.text
    refused = re.search(rf"{stuck} not changed: A case cannot move from ([^<]+)", page.text)
    assert refused and refused.group(1).endswith("to Triaged.")
    session.rollback()
    statuses = dict(session.execute(select(Case.reference, Case.status)).all())
    assert statuses == {first: "triaged", second: "triaged", stuck: "assigned"}
    moved = session.scalars(select(CaseEvent).where(
        CaseEvent.kind == "changed", CaseEvent.actor_label == f"{STAFF} (web)")).all()
    assert sorted(e.after["status"] for e in moved) == ["triaged", "triaged"]


def test_bulk_without_a_ticked_case_or_a_change_changes_nothing(staff, new_case, session):
    reference = new_case()
    assert "Tick at least one case" in bulk(staff, [], status="triaged").text
    assert "Tick at least one case" in bulk(staff, [reference]).text
    assert "Tick at least one case" in bulk(staff, [reference], status="flying").text
    session.rollback()
    assert session.scalar(select(Case.version)) == 1


# --- canned replies and notes on the case page -----------------------------------------

@pytest.fixture
def replies(session, world):
    english = save_reply(session, reply=None, locale="en", title="Shop found",
                         body="Dear {name},\n\nwe found a shop for case {reference}.")
    german = save_reply(session, reply=None, locale="de", title="Werkstatt gefunden",
                        body="Guten Tag {name}, Fall {reference}: Werkstatt gefunden.")
    session.commit()
    return {"en": english.id, "de": german.id}


def test_the_case_language_reply_is_offered_first(staff, new_case, replies):
    reference = new_case(locale="de")
    page = staff.get(f"/staff/cases/{reference}").text
    picker = re.search(r'<select id="canned" name="canned">(.*?)</select>', page, re.S).group(1)
    assert picker.index("Werkstatt gefunden") < picker.index("Shop found")
    assert f'<option value="{replies["de"]}" lang="de" selected>' in picker


def test_inserting_a_canned_reply_fills_the_public_reply(staff, new_case, replies):
    reference = new_case(name="Jürgen Beispiel", locale="de")
    page = staff.get(f"/staff/cases/{reference}?canned={replies['de']}").text
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S).group(1)
    assert html.unescape(textarea).strip() == (
        f"Guten Tag Jürgen Beispiel, Fall {reference}: Werkstatt gefunden.")
    public = re.search(r'<input[^>]*id="internal-0"[^>]*>', page).group(0)
    assert 'value=""' in public and "checked" in public
    assert staff.get(f"/staff/cases/{reference}?canned=99999").status_code == 200


def test_internal_notes_look_different_from_replies_to_the_owner(staff, new_case):
    reference = new_case()
    for body, internal in (("We found a shop for you.", ""), ("Check warranty first.", "y")):
        token = csrf_token(staff.get(f"/staff/cases/{reference}").text)
        staff.post(f"/staff/cases/{reference}/notes",
                   data={"csrf_token": token, "body": body, "internal": internal})
    page = staff.get(f"/staff/cases/{reference}").text
    internal = re.search(r'<li class="note internal">.*?</li>', page, re.S).group(0)
    public = re.search(r'<li class="note public">.*?</li>', page, re.S).group(0)
    assert "Internal note, not shown to the owner" in internal and "Check warranty" in internal
    assert "Reply to the owner" in public and "We found a shop" in public
    form = re.search(r'<fieldset class="note-kind">.*?</fieldset>', page, re.S).group(0)
    assert "Public reply: the owner reads it" in form and "Internal note: staff" in form


def test_staff_add_edit_and_deactivate_canned_replies(staff, replies, new_case):
    page = staff.get("/staff/canned")
    assert page.status_code == 200 and "Werkstatt gefunden" in page.text
    added = staff.post("/staff/canned", data={
        "csrf_token": csrf_token(page.text), "locale": "es", "title": "Taller encontrado",
        "body": "Hola {name}", "active": "y"}, follow_redirects=True)
    assert "The reply is saved." in added.text and "Taller encontrado" in added.text
    edit = staff.get(f"/staff/canned/{replies['en']}")
    staff.post(f"/staff/canned/{replies['en']}", data={
        "csrf_token": csrf_token(edit.text), "version": "1", "locale": "en",
        "title": "Shop found", "body": "Changed."})  # `active` unticked: deactivated
    reference = new_case()
    assert "Shop found" not in staff.get(f"/staff/cases/{reference}").text
    assert "Taller encontrado" in staff.get(f"/staff/cases/{reference}").text


def test_the_seed_offers_canned_replies_in_several_languages(session, seed_dir):
    rows = json.loads((seed_dir / "canned_replies.json").read_text("utf-8"))
    assert upsert_canned_replies(session, rows) == (len(rows), 0)
    assert upsert_canned_replies(session, rows) == (0, 0)  # a second run changes nothing
    assert {"en", "de", "ar", "es", "zh_Hans"} <= {row["locale"] for row in rows}
    assert all("{reference}" in row["body"] for row in rows)


# --- landing after sign-in -------------------------------------------------------------

@pytest.mark.parametrize(("role", "landing"), [("staff", "/staff/cases"),
                                               ("admin", "/staff/cases"),
                                               ("dealer", "/dealer/")])
def test_sign_in_lands_where_the_work_is(client, make, role, landing):
    org = make.org() if role == "dealer" else None
    user = make.user(role, org, password=PASSWORD)
    token = csrf_token(client.get("/login").text)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": token, "next": ""})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == landing


def test_a_safe_next_wins_over_the_landing_page(client, world):
    token = csrf_token(client.get("/login").text)
    response = client.post("/login", data={"email": STAFF, "password": PASSWORD,
                                           "csrf_token": token, "next": "/staff/dashboard"})
    assert urlsplit(response.headers["Location"]).path == "/staff/dashboard"
    token = csrf_token(client.get("/login").text)
    client.post("/logout", data={"csrf_token": token})
    token = csrf_token(client.get("/login").text)
    offsite = client.post("/login", data={"email": STAFF, "password": PASSWORD,
                                          "csrf_token": token, "next": "//evil.example/x"})
    assert urlsplit(offsite.headers["Location"]).path == "/staff/cases"
