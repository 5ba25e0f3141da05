"""Every write path leaves its audit entry, written by the service that makes the change:
who (one label format: `who (how)`), which token, what, and the state before and after.
All through HTTP (or the command line) as people and scripts use the portal."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from service_portal.audit.models import AuditEntry
from service_portal.cases.models import CaseEvent
from service_portal.users.models import ApiToken
from tests.helpers import csrf_token, sign_in

PASSWORD = "correct horse battery staple"
DEALER, STAFF = "dealer@alpha.example", "staff@portal.example"
LINE_1 = {"qty": 1, "price": "10.00", "currency": "EUR", "version": 1}


@pytest.fixture
def world(make):
    byd = make.brand("byd", name="BYD")
    make.model(byd, "byd-seal", name="Seal", year_from=2023)
    service = make.service("hv-battery")
    org = make.org("alpha")
    shop = make.shop(org, external_id="alpha-1", name="Alpha Shop",
                     brands=[(byd, "authorized")], services=[service])
    parts = {number: make.part(byd, number) for number in ("BYD-1", "BYD-2", "BYD-3")}
    make.stock(shop, parts["BYD-1"], qty=1, price=Decimal("10.00"))
    make.stock(shop, parts["BYD-3"], qty=3, price=Decimal("30.00"))
    dealer = make.user("dealer", org, email=DEALER, password=PASSWORD)
    staff = make.user("staff", email=STAFF, password=PASSWORD)
    dealer_token, staff_token = make.token(dealer, "till"), make.token(staff, "desk")
    ids = dict(make.session.execute(select(ApiToken.user_id, ApiToken.id)).all())
    return SimpleNamespace(shop=shop, dealer=dealer, staff=staff, dealer_token=dealer_token,
                           staff_token=staff_token, dealer_token_id=ids[dealer.id],
                           staff_token_id=ids[staff.id])


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def entries(session, **where) -> list[AuditEntry]:
    """What the audit log holds now (oldest first), optionally only matching `where`."""
    session.rollback()
    query = select(AuditEntry).order_by(AuditEntry.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return list(session.scalars(query))


def by_entity(found: list[AuditEntry]) -> dict[str, AuditEntry]:
    return {entry.entity_id: entry for entry in found}


def form_edit(client, world, number: str, **values):
    token = csrf_token(client.get(f"/dealer/shops/{world.shop.id}/stock").data)
    return client.post(f"/dealer/shops/{world.shop.id}/stock/{number}",
                       data={"csrf_token": token, **values})


def web_import(client, world, csv: bytes, filename: str = "counted.csv"):
    token = csrf_token(client.get(f"/dealer/shops/{world.shop.id}/stock").data)
    preview = client.post(f"/dealer/shops/{world.shop.id}/stock/upload",
                          data={"csrf_token": token, "file": (io.BytesIO(csv), filename)},
                          content_type="multipart/form-data")
    assert preview.status_code == 200, preview.text
    action = re.search(r'action="([^"]+/upload/[^"]+)"', preview.text).group(1)
    return preview, client.post(action, data={"csrf_token": csrf_token(preview.text)})


def api_import(client, world, csv: bytes, filename: str = "counted.csv", **args):
    return client.post(f"/api/v1/dealer/shops/{world.shop.id}/stock/import",
                       query_string=args, data={"file": (io.BytesIO(csv), filename)},
                       headers=bearer(world.dealer_token), content_type="multipart/form-data")


def put(client, world, items: list[tuple], mode: str = "merge"):
    return client.put(f"/api/v1/dealer/shops/{world.shop.id}/stock",
                      headers=bearer(world.dealer_token), json={"mode": mode, "items": [
                          {"part_number": pn, "qty": qty, "price": price, "currency": "EUR"}
                          for pn, qty, price in items]})


# --- stock ------------------------------------------------------------------------------

def test_form_edit_records_the_quantity_it_replaced(client, world, session):
    sign_in(client, DEALER, PASSWORD)
    assert form_edit(client, world, "BYD-1", qty="7", min_qty="2", version="1").status_code == 303
    [entry] = entries(session)
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "stock.set", "stock", f"{world.shop.id}:BYD-1")
    assert entry.before == {"qty": 1, "min_qty": 0, "version": 1}
    assert entry.after == {"qty": 7, "min_qty": 2, "version": 2}
    assert (entry.actor_label, entry.actor_id, entry.token_id) == (
        f"{DEALER} (web)", world.dealer.id, None)


def test_api_sale_records_the_user_and_the_token(client, world, session):
    response = client.patch(f"/api/v1/dealer/shops/{world.shop.id}/stock/BYD-1",
                            json={"qty_delta": -1}, headers=bearer(world.dealer_token))
    assert response.status_code == 200
    [entry] = entries(session)
    assert entry.action == "stock.adjust"
    assert (entry.before, entry.after) == ({"qty": 1, "version": 1}, {"qty": 0, "version": 2})
    assert (entry.actor_label, entry.actor_id, entry.token_id) == (
        f"{DEALER} (token till)", world.dealer.id, world.dealer_token_id)


def test_api_set_with_a_version_records_before_and_after(client, world, session):
    response = client.patch(f"/api/v1/dealer/shops/{world.shop.id}/stock/BYD-3",
                            json={"qty": 9, "version": 1}, headers=bearer(world.dealer_token))
    assert response.status_code == 200
    [entry] = entries(session)
    assert (entry.before["qty"], entry.after["qty"], entry.after["version"]) == (3, 9, 2)
    assert entry.token_id == world.dealer_token_id


def test_put_merge_records_each_changed_part_and_the_put(client, world, session):
    response = put(client, world, [("BYD-1", 4, "10.00"), ("BYD-2", 2, "5"),
                                   ("BYD-3", 3, "30.00")])
    assert response.json == {"created": 1, "updated": 1, "deleted": 0}
    found = entries(session, action="stock.put.merge")
    lines = by_entity(e for e in found if e.entity_type == "stock")
    shop = world.shop.id
    assert set(lines) == {f"{shop}:BYD-1", f"{shop}:BYD-2"}  # BYD-3 did not change
    assert lines[f"{shop}:BYD-1"].before == LINE_1
    assert lines[f"{shop}:BYD-1"].after == {**LINE_1, "qty": 4, "version": 2}
    assert lines[f"{shop}:BYD-2"].before is None
    assert lines[f"{shop}:BYD-2"].after == {"qty": 2, "price": "5.00", "currency": "EUR",
                                            "version": 1}
    [whole] = [e for e in found if e.entity_type == "shop"]
    assert (whole.entity_id, whole.after) == (str(shop), {
        "mode": "merge", "rows": 3, "created": 1, "updated": 1, "deleted": 0, "unchanged": 1})
    assert {e.token_id for e in found} == {world.dealer_token_id}


def test_put_replace_records_the_lines_it_removes(client, world, session):
    assert put(client, world, [("BYD-1", 1, "10.00")], mode="replace").json["deleted"] == 1
    found = entries(session, action="stock.put.replace")
    lines = by_entity(e for e in found if e.entity_type == "stock")
    assert list(lines) == [f"{world.shop.id}:BYD-3"]  # BYD-1 is listed unchanged
    removed = lines[f"{world.shop.id}:BYD-3"]
    assert (removed.before["qty"], removed.after) == (3, None)
    assert [e.after["deleted"] for e in found if e.entity_type == "shop"] == [1]


def test_a_put_that_changes_nothing_records_nothing(client, world, session):
    assert put(client, world, [("BYD-1", 1, "10.00")]).status_code == 200
    assert entries(session) == []


def test_api_import_records_each_changed_part_and_the_file(client, world, session):
    csv = b"part_number,qty,price,currency\nBYD-1,8,10.00,EUR\nBYD-2,2,5,EUR\nBYD-3,3,30,EUR\n"
    assert api_import(client, world, csv, "monday.csv").status_code == 200
    found = entries(session, action="stock.import")
    lines = by_entity(e for e in found if e.entity_type == "stock")
    shop = world.shop.id
    assert set(lines) == {f"{shop}:BYD-1", f"{shop}:BYD-2"}
    assert (lines[f"{shop}:BYD-1"].before, lines[f"{shop}:BYD-1"].after) == (
        LINE_1, {**LINE_1, "qty": 8, "version": 2})
    assert lines[f"{shop}:BYD-2"].before is None
    assert lines[f"{shop}:BYD-2"].after == {"qty": 2, "price": "5.00", "currency": "EUR",
                                            "version": 1}
    [whole] = [e for e in found if e.entity_type == "import"]
    assert (whole.entity_id, whole.after) == ("monday.csv", {
        "file": "monday.csv", "rows": 3, "mode": "merge", "shop": "alpha-1", "created": 1,
        "updated": 1, "deleted": 0, "unchanged": 1})
    assert {(e.actor_label, e.token_id) for e in found} == {
        (f"{DEALER} (token till)", world.dealer_token_id)}


def test_a_dry_run_import_records_nothing(client, world, session):
    csv = b"part_number,qty,price,currency\nBYD-1,8,10.00,EUR\n"
    assert api_import(client, world, csv, dry_run="true").json["dry_run"] is True
    assert entries(session) == []


def test_web_import_records_on_commit_not_on_preview(client, world, session):
    sign_in(client, DEALER, PASSWORD)
    preview, done = web_import(client, world, b"part_number,qty,price,currency\n"
                                              b"BYD-3,0,30.00,EUR\n", "friday.xlsx.csv")
    assert done.status_code == 303
    found = entries(session, action="stock.import")
    assert [(e.entity_type, e.entity_id) for e in found] == [
        ("stock", f"{world.shop.id}:BYD-3"), ("import", "friday.xlsx.csv")]
    assert (found[0].before["qty"], found[0].after["qty"]) == (3, 0)
    assert {(e.actor_label, e.actor_id, e.token_id) for e in found} == {
        (f"{DEALER} (web)", world.dealer.id, None)}


def test_command_line_import_records_changes_and_removals(cli, write_file, world, session):
    path = write_file("nightly.csv", "part_number,qty,price,currency\nBYD-1,5,10.00,EUR\n")
    result = cli("import-stock", str(path), "--shop", "alpha-1", "--replace")
    assert result.exit_code == 0, result.output
    found = entries(session, action="stock.import")
    lines = by_entity(e for e in found if e.entity_type == "stock")
    assert (lines[f"{world.shop.id}:BYD-1"].before["qty"],
            lines[f"{world.shop.id}:BYD-1"].after["qty"]) == (1, 5)
    assert lines[f"{world.shop.id}:BYD-3"].after is None
    [whole] = [e for e in found if e.entity_type == "import"]
    assert (whole.after["mode"], whole.after["deleted"], whole.after["file"]) == (
        "replace", 1, "nightly.csv")
    assert all(e.actor_label.endswith(" (command line)") and e.actor_id is None
               and e.token_id is None for e in found)


def test_stock_export_records_one_entry(client, world, session):
    sign_in(client, DEALER, PASSWORD)
    assert client.get(f"/dealer/shops/{world.shop.id}/stock.csv").status_code == 200
    [entry] = entries(session)
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "stock.export", "shop", str(world.shop.id))
    assert entry.after == {"rows": 2, "format": "csv"}
    assert entry.actor_label == f"{DEALER} (web)"


# --- the walk: one part through every way it changes -----------------------------------

def history_rows(page: str) -> list[list[str]]:
    """The history table's rows as cell texts (tags stripped), top to bottom."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_history_of_a_part_shows_every_before_and_after(client, world):
    sign_in(client, DEALER, PASSWORD)
    assert form_edit(client, world, "BYD-1", qty="7", min_qty="0", version="1").status_code == 303
    sale = client.patch(f"/api/v1/dealer/shops/{world.shop.id}/stock/BYD-1",
                        json={"qty_delta": -1}, headers=bearer(world.dealer_token))
    assert sale.json["qty"] == 6
    assert put(client, world, [("BYD-1", 10, "10.00")]).json["updated"] == 1
    _preview, done = web_import(client, world, b"part_number,qty,price,currency\n"
                                               b"BYD-1,4,10.00,EUR\n")
    assert done.status_code == 303
    page = client.get(f"/dealer/shops/{world.shop.id}/stock/BYD-1/history")
    assert page.status_code == 200
    shown = [(who, before, after) for _when, who, before, after in history_rows(page.text)]
    web, token = f"{DEALER} (web)", f"{DEALER} (token till)"
    assert shown == [(web, "10", "4"), (token, "6", "10"), (token, "7", "6"), (web, "1", "7")]


# --- shops, tokens, bulletins -----------------------------------------------------------

def test_shop_profile_records_the_dealer(client, world, session):
    sign_in(client, DEALER, PASSWORD)
    url = f"/dealer/shops/{world.shop.id}/profile"
    page = client.get(url).text
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page)
    response = client.post(url, data={"csrf_token": csrf_token(page), "action": "save",
                                      "version": version.group(1) if version else "1",
                                      "name": "Alpha EV", "hv_level": "none",
                                      "opening_hours": "Mo-Fr 08:00-18:00",
                                      "services": ["hv-battery"], "languages": "de"})
    assert response.status_code == 303
    [entry] = entries(session, action="shop.profile")
    assert (entry.before["name"], entry.after["name"]) == ("Alpha Shop", "Alpha EV")
    assert (entry.actor_label, entry.actor_id) == (f"{DEALER} (web)", world.dealer.id)


def test_token_creation_and_revocation_are_recorded(client, world, session):
    sign_in(client, DEALER, PASSWORD)
    page = client.get("/account/tokens").text
    made = client.post("/account/tokens", data={"csrf_token": csrf_token(page),
                                                 "name": "laptop"})
    assert made.status_code == 200
    session.rollback()
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "laptop"))
    revoked = client.post(f"/account/tokens/{token_id}/revoke",
                          data={"csrf_token": csrf_token(made.text)})
    assert revoked.status_code == 303
    created, gone = entries(session)
    assert (created.action, created.entity_id, created.after["name"]) == (
        "token.create", str(token_id), "laptop")
    assert (gone.action, gone.entity_id, gone.after["name"]) == (
        "token.revoke", str(token_id), "laptop")
    assert {e.actor_label for e in (created, gone)} == {f"{DEALER} (web)"}
    shown = re.search(r"spt_[\w-]{40,}", made.text).group(0)
    assert shown[:12] == created.after["prefix"]
    assert shown not in str(created.after) + str(gone.after)  # never the token itself


def test_token_made_on_the_command_line_is_recorded(cli, world, session):
    result = cli("create-token", "--email", DEALER, "--name", "nightly")
    assert result.exit_code == 0, result.output
    [entry] = entries(session)
    assert (entry.action, entry.after["name"], entry.after["user_id"]) == (
        "token.create", "nightly", world.dealer.id)
    assert entry.actor_label.endswith(" (command line)") and entry.actor_id is None


BULLETIN = {"code": "BYD-R-2026-001", "kind": "recall", "brand": "byd", "models": ["byd-seal"],
            "countries": ["DE"], "severity": "high", "published": "2026-11-01",
            "texts": {"en": {"title": "Clamp", "summary": "Check it.", "body": "Replace it."}}}


def test_bulletin_saves_through_the_api_are_recorded_once_each(client, world, session):
    headers = bearer(world.staff_token)
    assert client.post("/api/v1/bulletins", json=BULLETIN, headers=headers).status_code == 201
    url = "/api/v1/bulletins/BYD-R-2026-001"
    assert client.put(url, json={**BULLETIN, "severity": "critical"},
                      headers=headers).status_code == 200
    assert client.put(url, json={**BULLETIN, "severity": "critical"},
                      headers=headers).status_code == 200  # unchanged: no entry
    created, updated = entries(session)
    assert (created.action, created.before, created.after["severity"]) == (
        "bulletin.create", None, "high")
    assert (updated.action, updated.before["severity"], updated.after["severity"]) == (
        "bulletin.update", "high", "critical")
    assert {(e.actor_label, e.token_id) for e in (created, updated)} == {
        (f"{STAFF} (token desk)", world.staff_token_id)}


def test_bulletin_saved_in_the_editor_is_recorded_once(client, world, session):
    sign_in(client, STAFF, PASSWORD)
    token = csrf_token(client.get("/staff/bulletins/new").text)
    response = client.post("/staff/bulletins/new", data={
        "csrf_token": token, "code": "BYD-R-2026-002", "kind": "recall", "brand": "byd",
        "models": ["byd-seal"], "countries": "DE", "severity": "high",
        "published": "2026-11-01", "texts-en-title": "Clamp", "texts-en-summary": "Check it.",
        "texts-en-body": "Replace it.", "action": "save"})
    assert response.status_code == 303
    [entry] = entries(session)
    assert (entry.action, entry.entity_id) == ("bulletin.create", "BYD-R-2026-002")
    assert (entry.actor_label, entry.actor_id, entry.token_id) == (
        f"{STAFF} (web)", world.staff.id, None)


# --- cases, exports, privacy, accounts --------------------------------------------------

CASE = {"name": "Ingrid Example", "email": "ingrid@mail.example", "model": "byd-seal",
        "year": 2023, "country": "DE", "service": "hv-battery",
        "description": "Battery warning light after charging.", "consent": True}


def open_case(client) -> str:
    response = client.post("/api/v1/cases", json=CASE)
    assert response.status_code == 201, response.json
    return response.json["reference"]


def test_case_events_and_views_carry_the_same_actor(client, world, session):
    reference = open_case(client)
    headers = bearer(world.staff_token)
    assert client.get(f"/api/v1/cases/{reference}", headers=headers).status_code == 200
    moved = client.patch(f"/api/v1/cases/{reference}", json={"version": 1, "status": "triaged"},
                         headers=headers)
    assert moved.status_code == 200
    sign_in(client, STAFF, PASSWORD)
    assert client.get(f"/staff/cases/{reference}").status_code == 200
    by_api, by_web = entries(session, action="case.view")
    assert (by_api.actor_label, by_api.token_id) == (f"{STAFF} (token desk)",
                                                     world.staff_token_id)
    assert (by_web.actor_label, by_web.token_id, by_web.entity_id) == (
        f"{STAFF} (web)", None, reference)
    events = session.execute(select(CaseEvent.kind, CaseEvent.actor_label, CaseEvent.actor_id)
                             .order_by(CaseEvent.id)).all()
    assert [tuple(e) for e in events] == [("opened", "owner (web)", None),
                                          ("changed", f"{STAFF} (token desk)", world.staff.id)]


def test_queue_export_records_one_entry_without_the_search_text(client, world, session):
    reference = open_case(client)
    sign_in(client, STAFF, PASSWORD)
    response = client.get(f"/staff/cases.csv?q={reference}&country=DE")
    assert response.status_code == 200 and reference in response.text
    [entry] = entries(session, action="cases.export")
    assert entry.after == {"rows": 1, "filters": {"q": "…", "country": "DE"}}
    assert entry.actor_label == f"{STAFF} (web)"


def test_privacy_export_and_erasure_are_recorded(client, world, session):
    reference = open_case(client)
    sign_in(client, STAFF, PASSWORD)
    token = csrf_token(client.get("/staff/privacy").text)
    exported = client.post("/staff/privacy", data={"csrf_token": token,
                                                   "email": CASE["email"]})
    assert exported.status_code == 200 and reference in exported.text
    erased = client.post("/staff/privacy", data={"csrf_token": token, "email": CASE["email"],
                                                 "action": "erase", "confirm": "y"})
    assert erased.status_code == 302
    export, erasure = entries(session, entity_type="owner")
    assert (export.action, export.entity_id) == ("privacy.export", reference)
    assert (erasure.action, erasure.after) == ("privacy.erase", {"cases": [reference]})
    assert {e.actor_label for e in (export, erasure)} == {f"{STAFF} (web)"}
    assert CASE["email"] not in str([(e.entity_id, e.after) for e in (export, erasure)])


def test_account_changes_on_the_command_line_are_recorded(cli, world, session):
    assert cli("user", "disable", DEALER).exit_code == 0
    assert cli("user", "enable", DEALER).exit_code == 0
    disabled, enabled = entries(session)
    assert (disabled.action, disabled.before, disabled.after["active"]) == (
        "user.disable", {"active": True}, False)
    assert (enabled.action, enabled.entity_id) == ("user.enable", str(world.dealer.id))
    assert all(e.actor_label.endswith(" (command line)") for e in (disabled, enabled))
