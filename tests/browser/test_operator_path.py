"""The operator's first day, in a real browser against a fresh database: `init-db` loads the
reference catalog, `create-user` makes the first admin, who creates an organisation,
invites a dealer (the invitation arrives by email through a real SMTP server and the
worker), and creates a shop for it; the dealer sets a password from the link and uploads a
technician's HV certificate, staff verify it, and an owner's search shows the shop with a
verified qualification."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from service_portal.notifications.worker import run
from tests.browser.conftest import ARTIFACTS
from tests.mail import SmtpServer
from tests.test_credentials import PDF

pytestmark = pytest.mark.browser
ADMIN, STAFF, DEALER = "ops@portal.example", "support@portal.example", "werkstatt@fjord.example"
PASSWORD = "an operator's long passphrase"
DEALER_PASSWORD = "the dealer's own passphrase"


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, smtp, tmp_path):
    return make_app(SMTP_URL=smtp.url, STORAGE_URL=f"file://{tmp_path / 'evidence'}")


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"operator-path-{name}.png"), full_page=True)


def sign_in(browser, base: str, email: str, password: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form", has=page.locator("input[name=password]")) \
        .locator("button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def test_from_a_fresh_database_to_a_verified_shop(app, cli, browser, live_server, smtp,
                                                  tmp_path):
    app.config["PUBLIC_BASE_URL"] = live_server
    assert cli("init-db").exit_code == 0
    for email, role in ((ADMIN, "admin"), (STAFF, "staff")):
        made = cli("create-user", "--email", email, "--role", role, "--password-stdin",
                   input=PASSWORD + "\n")
        assert made.exit_code == 0, made.output

    # The admin creates the organisation, invites its dealer and adds its shop.
    admin_context, admin = sign_in(browser, live_server, ADMIN, PASSWORD)
    admin.goto(f"{live_server}/admin/organizations/new")
    admin.locator("#name").fill("Fjord Elbil Service")
    admin.locator("#country").select_option("DE")
    admin.locator("form.stack button[type=submit]").click()
    admin.wait_for_url(re.compile(r"/admin/organizations/\d+$"))
    org_id = re.search(r"/admin/organizations/(\d+)$", admin.url).group(1)
    admin.get_by_role("link", name="Invite a user").click()
    admin.locator("#email").fill(DEALER)
    admin.locator("#name").fill("Ingrid Fjord")
    assert admin.locator("#role").input_value() == "dealer"
    admin.locator("form.stack button[type=submit]").click()
    admin.wait_for_load_state()
    admin.goto(f"{live_server}/admin/shops/new?organization={org_id}")
    admin.locator("#external_id").fill("fjord-frankfurt-1")
    admin.locator("#name").fill("Fjord Elbil Frankfurt")
    admin.locator("#brand-byd").select_option("authorized")
    admin.locator("#address").fill("Hanauer Landstraße 100")
    admin.locator("#postal_code").fill("60314")
    admin.locator("#city").fill("Frankfurt am Main")
    admin.locator("#country").select_option("DE")
    admin.locator("#lat").fill("50.1125")
    admin.locator("#lon").fill("8.7110")
    admin.locator("#opening_hours").fill("Mo-Fr 08:00-18:00")
    admin.locator("#hv_level").select_option("2S")
    shot(admin, "new-shop")
    admin.locator("form.stack button[type=submit]").click()
    admin.wait_for_url(re.compile(r"/admin/shops/\d+$"))
    shop_id = int(re.search(r"/admin/shops/(\d+)$", admin.url).group(1))
    admin_context.close()

    # The invitation goes out through the outbox and the worker.
    with app.app_context():
        run(app, once=True, poll_seconds=0)
    (invitation,) = smtp.inbox.to(DEALER)
    text = invitation.get_body(preferencelist=("plain",)).get_content()
    link = re.search(re.escape(live_server) + r"/invitation/\S+", text).group(0)

    dealer_context = browser.new_context(viewport={"width": 1280, "height": 900})
    dealer = dealer_context.new_page()
    dealer.set_default_timeout(10_000)
    dealer.goto(link)
    dealer.locator("#password").fill(DEALER_PASSWORD)
    dealer.locator("#confirm").fill(DEALER_PASSWORD)
    dealer.locator("form.stack button[type=submit], form button[type=submit]").last.click()
    dealer.wait_for_load_state()
    dealer_context.close()

    # The dealer signs in with the new password and uploads the certificate.
    dealer_context, dealer = sign_in(browser, live_server, DEALER, DEALER_PASSWORD)
    dealer.goto(f"{live_server}/dealer/")
    dealer.get_by_role("link", name="Evidence").click()
    dealer.wait_for_url(re.compile(rf"/dealer/shops/{shop_id}/credentials$"))
    certificate = tmp_path / "hv-certificate.pdf"
    certificate.write_bytes(PDF)
    dealer.locator("#hv-technician").fill("Ingrid Fjord")
    dealer.locator("#hv-hv_level").select_option("3S")
    dealer.locator("#hv-issuer").fill("TÜV Hessen")
    dealer.locator("#hv-valid_until").fill((date.today() + timedelta(days=700)).isoformat())
    dealer.locator("#hv-file").set_input_files(str(certificate))
    dealer.locator("form", has=dealer.locator("#hv-file")).locator("button[type=submit]").click()
    dealer.wait_for_load_state()
    shot(dealer, "dealer-evidence")
    dealer_context.close()

    # Before staff look, owners read the qualification as declared.
    owner_context = browser.new_context(viewport={"width": 1280, "height": 900})
    owner = owner_context.new_page()
    owner.set_default_timeout(10_000)
    search = f"{live_server}/?near=Frankfurt+am+Main&brand=byd"
    owner.goto(search)
    card = owner.locator(f"#shop-{shop_id}")
    assert card.locator(".badge.verified").count() == 0
    assert card.get_by_text("declared").count() >= 1

    staff_context, staff = sign_in(browser, live_server, STAFF, PASSWORD)
    staff.goto(f"{live_server}/staff/credentials")
    staff.locator("table a", has_text="Ingrid Fjord").click()
    staff.locator("button[name=action][value=verify]").click()
    staff.wait_for_url(re.compile(r"/staff/credentials$"))
    staff_context.close()

    owner.goto(search)
    card = owner.locator(f"#shop-{shop_id}")
    verified = card.locator(".shop-facts .badge.verified")
    assert verified.count() == 1 and verified.is_visible()
    shot(owner, "owner-search")
    owner_context.close()
