"""The parts catalog import in the admin area: a preview that stores nothing, a
confirmation that stores all or nothing and is audited once, and never twice."""

from __future__ import annotations

import io
import re

import pytest
from sqlmodel import select

from service_portal.audit.models import AuditEntry
from service_portal.parts.models import Part
from tests.helpers import changed_tables, csrf_token, sign_in, table_snapshot

PASSWORD = "correct horse battery"
HEADER = "part_number,brand,name,category,superseded_by,fits\n"
GOOD = (HEADER + "BYD-100,byd,Brake pad set,brakes,,\n"
        "BYD-101,byd,Cabin filter,filters,,byd-seal\n"
        "BYD-102,byd,Cabin filter (new),filters,,byd-seal\n")


@pytest.fixture
def people(make):
    org = make.org("nord-motors")
    byd = make.brand("byd", name="BYD")
    make.model(byd, "byd-seal", name="Seal")
    make.part(byd, "BYD-100", name="Brake pad set", category="brakes")
    return {"admin": make.user("admin", email="admin@example.test", password=PASSWORD),
            "dealer": make.user("dealer", org=org, email="dealer@example.test",
                                password=PASSWORD),
            "staff": make.user("staff", email="staff@example.test", password=PASSWORD)}


def _client(app, email="admin@example.test"):
    client = app.test_client()
    sign_in(client, email, PASSWORD)
    return client


def _preview(client, content: str, name: str = "parts.csv"):
    token = csrf_token(client.get("/admin/parts").text)
    return client.post("/admin/parts/preview", data={
        "csrf_token": token, "file": (io.BytesIO(content.encode()), name)})


def _confirm(client, preview):
    path = re.search(r'action="(/admin/parts/[^"]+)"', preview.text).group(1)
    return client.post(path, data={"csrf_token": csrf_token(preview.text)})


def _imports(session):
    session.rollback()
    return session.exec(select(AuditEntry).where(AuditEntry.action == "parts.import")).all()


@pytest.mark.parametrize("role", ["dealer", "staff"])
def test_dealers_and_staff_get_403_on_every_parts_route(app, people, role):
    engine = app.extensions["service_portal.engine"]
    admin_preview = _preview(_client(app), GOOD)
    token_path = re.search(r'action="(/admin/parts/[^"]+)"', admin_preview.text).group(1)
    client = _client(app, f"{role}@example.test")
    csrf = csrf_token(client.get("/help").text)
    before = table_snapshot(engine)
    assert client.get("/admin/parts").status_code == 403
    assert client.post("/admin/parts/preview", data={
        "csrf_token": csrf, "file": (io.BytesIO(GOOD.encode()), "p.csv")}).status_code == 403
    assert client.post(token_path, data={"csrf_token": csrf}).status_code == 403
    assert table_snapshot(engine) == before


def test_the_preview_counts_the_changes_and_stores_nothing(app, people):
    engine = app.extensions["service_portal.engine"]
    admin = _client(app)
    before = table_snapshot(engine)
    changed = GOOD.replace("BYD-100,byd,Brake pad set", "BYD-100,byd,Brake pad set (front)")
    response = _preview(admin, changed)
    assert response.status_code == 200
    text = response.text
    assert "3 rows read" in text and "2 parts to create" in text
    assert "1 part to update" in text and "0 parts unchanged" in text
    # Only the file waits for its confirmation (any app host can finish it).
    assert changed_tables(before, table_snapshot(engine)) == ["stock_uploads"]
    unchanged = _preview(admin, GOOD).text
    assert "1 part unchanged" in unchanged and "0 parts to update" in unchanged


def test_confirming_stores_every_part_and_is_audited_once(app, people, session):
    admin = _client(app)
    response = _confirm(admin, _preview(admin, GOOD, "catalog-2026.csv"))
    assert response.status_code == 303
    assert "Imported: 2 new, 0 changed parts." in admin.get(response.location).text
    session.rollback()
    numbers = session.exec(select(Part.part_number).order_by(Part.part_number)).all()
    assert numbers == ["BYD-100", "BYD-101", "BYD-102"]
    [entry] = _imports(session)
    assert "admin@example.test" in entry.actor_label
    assert entry.after == {"file": "catalog-2026.csv", "rows": 3, "created": 2, "updated": 0,
                           "unchanged": 1}


def test_a_file_with_one_bad_row_stores_nothing_and_names_the_row(app, people, session):
    engine = app.extensions["service_portal.engine"]
    admin = _client(app)
    before = table_snapshot(engine)
    bad = GOOD + "BYD-103,byd,Wiper,wipers,,byd-seal\n"
    response = _preview(admin, bad)
    assert response.status_code == 422
    assert "Row 5" in response.text and "category" in response.text
    assert "Import now" not in response.text
    assert table_snapshot(engine) == before


def test_a_second_confirmation_of_one_preview_imports_nothing(app, people, session):
    admin = _client(app)
    preview = _preview(admin, GOOD)
    assert _confirm(admin, preview).status_code == 303
    again = _confirm(admin, preview)
    assert again.status_code == 303
    assert "expired or was imported already" in admin.get(again.location).text
    assert len(_imports(session)) == 1
    forged = admin.post("/admin/parts/..%2F..%2Fportal", data={
        "csrf_token": csrf_token(preview.text)})
    assert forged.status_code in (303, 404)


def test_another_admins_preview_cannot_be_confirmed(app, people, make, session):
    make.user("admin", email="other@example.test", password=PASSWORD)
    preview = _preview(_client(app), GOOD)
    other = _client(app, "other@example.test")
    path = re.search(r'action="(/admin/parts/[^"]+)"', preview.text).group(1)
    response = other.post(path, data={"csrf_token": csrf_token(other.get("/admin/parts").text)})
    assert response.status_code == 303
    assert _imports(session) == []


def test_a_file_that_is_not_a_table_is_a_clear_error(app, people):
    admin = _client(app)
    response = _preview(admin, "part_number;qty\n", "parts.csv")
    assert response.status_code == 422
    assert "Missing columns" in response.text
    # Given as bytes: a file this size would be spooled by the test client to a temporary
    # file that it never closes.
    token = csrf_token(admin.get("/admin/parts").text)
    body = (b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            + token.encode() + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; '
            b'filename="big.csv"\r\n\r\n' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
            + b"\r\n--b--\r\n")
    huge = admin.post("/admin/parts/preview", data=body,
                      content_type="multipart/form-data; boundary=b")
    assert huge.status_code == 413
    assert "The upload is too large." in huge.text


def test_the_command_line_import_is_audited_too(cli, people, session, write_file):
    result = cli("import-parts", str(write_file("parts.csv", GOOD)))
    assert result.exit_code == 0, result.output
    [entry] = _imports(session)
    assert "command line" in entry.actor_label and entry.after["rows"] == 3
