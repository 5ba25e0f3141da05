"""Verified credentials: a dealer uploads evidence for a shop's brand authorisation and HV
qualification, staff verify or reject it, and owners see "verified" only for verified,
unexpired evidence. Files are checked by content, kept outside the web root and served
only to the shop's organisation and to staff; dealers hear before a document expires."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from service_portal.audit.models import AuditEntry
from service_portal.credentials.models import Credential
from service_portal.credentials.services import remind_expiring
from service_portal.notifications.models import Notification
from service_portal.notifications.worker import run
from tests.helpers import csrf_token, sign_in
from tests.mail import SmtpServer

PASSWORD = "correct horse battery"
BASE = "https://portal.example"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, smtp, tmp_path):
    return make_app(SMTP_URL=smtp.url, PUBLIC_BASE_URL=BASE,
                    STORAGE_URL=f"file://{tmp_path / 'evidence'}")


@pytest.fixture
def world(make):
    byd = make.brand("byd", name="BYD")
    north, south = make.org("north-motors"), make.org("south-motors")
    shop = make.shop(north, brands=[(byd, "authorized")], hv_level="2S", name="North Works")
    other = make.shop(south, brands=[(byd, "partner")], name="South Garage")
    users = {"dealer": make.user("dealer", org=north, email="dealer@north.test",
                                 password=PASSWORD),
             "rival": make.user("dealer", org=south, email="dealer@south.test",
                                password=PASSWORD),
             "staff": make.user("staff", email="staff@example.test", password=PASSWORD),
             "admin": make.user("admin", email="admin@example.test", password=PASSWORD)}
    return {"byd": byd, "shop": shop, "other": other, **users}


def client_of(app, email):
    client = app.test_client()
    sign_in(client, email, PASSWORD)
    return client


def upload(client, shop_id, kind, data=PDF, name="certificate.pdf", **fields):
    path = f"/dealer/shops/{shop_id}/credentials"
    token = csrf_token(client.get(path).text)
    form = {"kind": kind, "csrf_token": token,
            f"{kind}-file": (io.BytesIO(data), name)}
    form.update({f"{kind}-{key}": value for key, value in fields.items()})
    return client.post(path, data=form, content_type="multipart/form-data")


def hv_upload(client, shop_id, level="2S", until=None, **kw):
    until = until or (date.today() + timedelta(days=400)).isoformat()
    return upload(client, shop_id, "hv", technician="Jonas Weber", hv_level=level,
                  issuer="TÜV Süd Akademie", valid_until=until, **kw)


def decide(client, credential_id, action, reason=""):
    path = f"/staff/credentials/{credential_id}"
    page = client.get(path).text
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    return client.post(path, data={"csrf_token": csrf_token(page), "version": version,
                                   "action": action, "reason": reason})


def shop_json(app, shop_id):
    return app.test_client().get(f"/api/v1/shops/{shop_id}").json


def search_result(app, shop_id):
    found = app.test_client().get("/api/v1/shops", query_string={
        "lat": 50.11, "lon": 8.68, "radius_km": 50, "brand": "byd"}).json["results"]
    return next(r for r in found if r["id"] == shop_id)


def only_credential(session) -> Credential:
    session.rollback()
    return session.scalars(select(Credential)).one()


def test_a_verified_certificate_makes_the_claim_verified_for_owners(app, world, session):
    shop = world["shop"]
    assert shop_json(app, shop.id)["hv_verified"] is False
    assert search_result(app, shop.id)["brands"] == [
        {"brand": "byd", "level": "authorized", "verified": False}]
    dealer = client_of(app, "dealer@north.test")
    response = hv_upload(dealer, shop.id)
    assert response.status_code == 303
    page = dealer.get(response.headers["Location"]).text
    assert "Jonas Weber" in page and "Waiting for review" in page
    credential = only_credential(session)
    assert credential.state == "pending" and credential.content_type == "application/pdf"
    assert shop_json(app, shop.id)["hv_verified"] is False  # pending is not verified

    staff = client_of(app, "staff@example.test")
    assert "Jonas Weber" in staff.get("/staff/credentials").text
    assert decide(staff, credential.id, "verify").status_code == 303
    assert shop_json(app, shop.id)["hv_verified"] is True
    assert search_result(app, shop.id)["hv_verified"] is True
    shop_page = app.test_client().get(f"/shops/{shop.id}").text
    assert 'class="badge verified"' in shop_page
    session.rollback()
    actions = [e.action for e in session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "credential").order_by(AuditEntry.id))]
    assert actions == ["credential.upload", "credential.verified"]
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "credential.verified")).one()
    assert entry.actor_label == "staff@example.test (web)"
    assert entry.before["state"] == "pending" and entry.after["state"] == "verified"


def test_a_lower_level_or_expired_certificate_verifies_nothing(app, world, session, make):
    shop = world["shop"]  # declares 2S
    dealer, staff = client_of(app, "dealer@north.test"), client_of(app, "staff@example.test")
    assert hv_upload(dealer, shop.id, level="1S").status_code == 303
    decide(staff, only_credential(session).id, "verify")
    assert shop_json(app, shop.id)["hv_verified"] is False
    session.rollback()
    for row in session.scalars(select(Credential)):  # a 3S certificate that has lapsed
        row.hv_level, row.valid_until = "3S", date.today() - timedelta(days=1)
    session.commit()
    assert shop_json(app, shop.id)["hv_verified"] is False
    page = app.test_client().get(f"/shops/{shop.id}").text
    assert 'class="badge verified"' not in page and "declared" in page


def test_brand_evidence_verifies_that_brand_only(app, world, session):
    shop = world["shop"]
    dealer, staff = client_of(app, "dealer@north.test"), client_of(app, "staff@example.test")
    response = upload(dealer, shop.id, "brand", brand=str(world["byd"].id),
                      document="contract", issuer="BYD Europe B.V.")
    assert response.status_code == 303
    decide(staff, only_credential(session).id, "verify")
    assert shop_json(app, shop.id)["brands"] == [
        {"brand": "byd", "level": "authorized", "verified": True}]
    assert shop_json(app, shop.id)["hv_verified"] is False
    assert shop_json(app, world["other"].id)["brands"][0]["verified"] is False


def test_rejecting_needs_a_reason_and_tells_the_dealer(app, world, session, smtp):
    dealer, staff = client_of(app, "dealer@north.test"), client_of(app, "staff@example.test")
    hv_upload(dealer, world["shop"].id)
    credential = only_credential(session)
    response = decide(staff, credential.id, "reject")
    assert response.status_code == 422 and "Say why" in response.text
    assert only_credential(session).state == "pending"
    assert decide(staff, credential.id, "reject",
                  reason="The certificate names another company.").status_code == 303
    assert only_credential(session).state == "rejected"
    assert shop_json(app, world["shop"].id)["hv_verified"] is False
    with app.app_context():
        run(app, once=True, poll_seconds=0)
    (message,) = smtp.inbox.to("dealer@north.test")
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "rejected" in message["Subject"] and "another company" in body
    assert smtp.inbox.to("dealer@south.test") == []
    page = dealer.get(f"/dealer/shops/{world['shop'].id}/credentials").text
    assert "another company" in page and "Rejected" in page


def test_a_stale_review_is_a_409_and_changes_nothing(app, world, session):
    dealer, staff = client_of(app, "dealer@north.test"), client_of(app, "staff@example.test")
    hv_upload(dealer, world["shop"].id)
    credential = only_credential(session)
    path = f"/staff/credentials/{credential.id}"
    page = staff.get(path).text
    assert decide(staff, credential.id, "verify").status_code == 303
    stale = staff.post(path, data={"csrf_token": csrf_token(page), "version": "1",
                                   "action": "reject", "reason": "late"})
    assert stale.status_code == 409
    assert only_credential(session).state == "verified"


@pytest.mark.parametrize(("data", "name"), [
    (b"MZ\x90\x00 not a document", "certificate.pdf"),  # a program named .pdf
    (b"<html><script>alert(1)</script></html>", "certificate.png"),
    (b"GIF89a\x01\x00\x01\x00", "certificate.jpg"),
])
def test_a_file_is_checked_by_its_content(app, world, session, data, name, tmp_path):
    dealer = client_of(app, "dealer@north.test")
    response = hv_upload(dealer, world["shop"].id, data=data, name=name)
    assert response.status_code == 422
    assert "must be a PDF, PNG or JPEG" in response.text
    session.rollback()
    assert session.scalars(select(Credential)).all() == []
    assert not any((tmp_path / "evidence").rglob("*.*"))


def test_an_image_is_accepted_and_served_as_a_download(app, world, session):
    dealer = client_of(app, "dealer@north.test")
    assert hv_upload(dealer, world["shop"].id, data=PNG, name="../../scan 1.png") \
        .status_code == 303
    credential = only_credential(session)
    assert credential.content_type == "image/png" and credential.file_name == "scan 1.png"
    response = dealer.get(f"/dealer/shops/{world['shop'].id}/credentials/{credential.id}/file")
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_files_are_served_only_to_their_organisation_and_staff(app, world, session):
    dealer = client_of(app, "dealer@north.test")
    hv_upload(dealer, world["shop"].id)
    credential = only_credential(session)
    own = f"/dealer/shops/{world['shop'].id}/credentials/{credential.id}/file"
    rival = client_of(app, "dealer@south.test")
    assert rival.get(own).status_code == 404
    # Under the rival's own shop id the file is not theirs either.
    assert rival.get(f"/dealer/shops/{world['other'].id}/credentials/{credential.id}/file") \
        .status_code == 404
    assert rival.get(f"/dealer/shops/{world['shop'].id}/credentials").status_code == 404
    assert rival.get(f"/staff/credentials/{credential.id}/file").status_code == 403
    assert rival.get("/staff/credentials").status_code == 403
    assert app.test_client().get(f"/staff/credentials/{credential.id}/file").status_code \
        in (302, 401)
    staff = client_of(app, "staff@example.test")
    assert staff.get(f"/staff/credentials/{credential.id}/file").data == PDF
    assert client_of(app, "admin@example.test").get(
        f"/staff/credentials/{credential.id}/file").status_code == 200


def test_the_file_is_kept_outside_the_web_root(app, world, session, tmp_path):
    dealer = client_of(app, "dealer@north.test")
    hv_upload(dealer, world["shop"].id)
    credential = only_credential(session)
    stored = tmp_path / "evidence" / credential.file_key
    assert stored.read_bytes() == PDF
    assert app.test_client().get(f"/static/{credential.file_key}").status_code == 404


@pytest.mark.parametrize(("fields", "field_error"), [
    ({"technician": "", "hv_level": "2S", "issuer": "TÜV", "valid_until": "2030-01-01"},
     "hv-technician"),
    ({"technician": "Ana", "hv_level": "4S", "issuer": "TÜV", "valid_until": "2030-01-01"},
     "hv-hv_level"),
    ({"technician": "Ana", "hv_level": "2S", "issuer": "TÜV", "valid_until": "2020-01-01"},
     "hv-valid_until"),
    ({"technician": "Ana", "hv_level": "2S", "issuer": "TÜV", "valid_until": "01/02/2030"},
     "hv-valid_until"),
])
def test_a_bad_statement_is_refused_next_to_its_field(app, world, session, fields,
                                                       field_error):
    dealer = client_of(app, "dealer@north.test")
    response = upload(dealer, world["shop"].id, "hv", **fields)
    assert response.status_code == 422
    assert f'id="{field_error}" ' in response.text and 'aria-invalid="true"' in response.text
    session.rollback()
    assert session.scalars(select(Credential)).all() == []


def test_brand_evidence_only_for_a_declared_brand(app, world, session, make):
    mg = make.brand("mg", name="MG")
    dealer = client_of(app, "dealer@north.test")
    response = upload(dealer, world["shop"].id, "brand", brand=str(mg.id),
                      document="contract")
    assert response.status_code == 422
    session.rollback()
    assert session.scalars(select(Credential)).all() == []


def test_an_upload_over_the_limit_is_a_413(make_app, world, tmp_path):
    app = make_app(MAX_UPLOAD_MB=1, STORAGE_URL=f"file://{tmp_path / 'evidence'}")
    dealer = client_of(app, "dealer@north.test")
    path = f"/dealer/shops/{world['shop'].id}/credentials"
    token = csrf_token(dealer.get(path).text)
    fields = {"kind": "hv", "csrf_token": token, "hv-technician": "Ana",
              "hv-hv_level": "2S", "hv-issuer": "TÜV", "hv-valid_until": "2030-01-01"}
    body = b"".join(f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                    .encode() for k, v in fields.items())
    body += (b'--b\r\nContent-Disposition: form-data; name="hv-file"; filename="c.pdf"\r\n'
             b"Content-Type: application/pdf\r\n\r\n" + PDF + b"0" * (1024 * 1024) +
             b"\r\n--b--\r\n")
    response = dealer.post(path, data=body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    assert not any((tmp_path / "evidence").rglob("*.*"))


def test_dealers_hear_once_a_month_before_expiry(app, world, session, smtp):
    dealer, staff = client_of(app, "dealer@north.test"), client_of(app, "staff@example.test")
    until = date.today() + timedelta(days=20)
    hv_upload(dealer, world["shop"].id, until=until.isoformat())
    decide(staff, only_credential(session).id, "verify")
    session.rollback()
    assert remind_expiring(session, today=date.today() - timedelta(days=15)) == 0
    assert remind_expiring(session) == 1
    session.commit()
    assert remind_expiring(session) == 0  # once per expiry date
    session.commit()
    with app.app_context():
        run(app, once=True, poll_seconds=0)
    reminders = [m for m in smtp.inbox.to("dealer@north.test") if "expires" in m["Subject"]]
    assert len(reminders) == 1
    body = reminders[0].get_body(preferencelist=("plain",)).get_content()
    assert "Jonas Weber" in body and "North Works" in body
    assert f"{BASE}/dealer/shops/{world['shop'].id}/credentials" in body
    kinds = session.scalars(select(Notification.kind)).all()
    assert kinds.count("credential_expiring") == 1
