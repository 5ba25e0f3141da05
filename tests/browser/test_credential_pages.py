"""Evidence in a real browser, at 1280 and 360 px, in English and Arabic: a dealer uploads a
technician's HV certificate through the form, staff open it and verify it, and the owner's
shop page then shows the qualification as verified."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.test_credentials import PDF

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
SIZES = [pytest.param((1280, 800), id="desktop"), pytest.param((360, 740), id="phone")]


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_URL=f"file://{tmp_path / 'evidence'}")


@pytest.fixture
def world(make):
    byd = make.brand("byd", name="BYD")
    org = make.org("north-motors")
    shop = make.shop(org, brands=[(byd, "authorized")], hv_level="2S", name="North Works")
    make.user("dealer", org=org, email="dealer@north.test", password=PASSWORD)
    make.user("staff", email="staff@example.test", password=PASSWORD)
    return {"shop": shop}


def page_for(browser, size, lang):
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height},
                                  locale="ar" if lang == "ar" else "en-GB")
    return context, context.new_page()


def sign_in(page, base, email, lang):
    page.goto(f"{base}/login?lang={lang}")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form", has=page.locator("input[name=password]")) \
        .locator("button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("size", SIZES)
def test_upload_verify_and_the_owner_sees_verified(browser, live_server, world, tmp_path,
                                                    size, lang, request):
    name = request.node.name
    shop_id = world["shop"].id
    certificate = tmp_path / "certificate.pdf"
    certificate.write_bytes(PDF)

    context, page = page_for(browser, size, lang)
    sign_in(page, live_server, "dealer@north.test", lang)
    page.goto(f"{live_server}/dealer/shops/{shop_id}/credentials")
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
    form = page.locator("form", has=page.locator("input[name=kind][value=hv]"))
    page.set_default_timeout(10_000)
    form.locator("#hv-technician").fill("Jonas Weber")
    form.locator("#hv-hv_level").select_option("2S")
    form.locator("#hv-issuer").fill("TÜV Süd Akademie")
    form.locator("#hv-valid_until").fill((date.today() + timedelta(days=400)).isoformat())
    form.locator("#hv-file").set_input_files(str(certificate))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("table").get_by_text("Jonas Weber").count() == 1
    assert no_sideways_scroll(page)
    shot(page, f"{name}-dealer")
    context.close()

    context, page = page_for(browser, size, lang)
    sign_in(page, live_server, "staff@example.test", lang)
    page.goto(f"{live_server}/staff/credentials")
    assert no_sideways_scroll(page)
    shot(page, f"{name}-staff-list")
    page.locator("table a", has_text="Jonas Weber").click()
    page.wait_for_url(re.compile(r"/staff/credentials/\d+$"))
    assert no_sideways_scroll(page)
    shot(page, f"{name}-staff-review")
    page.locator("button[name=action][value=verify]").click()
    page.wait_for_url(re.compile(r"/staff/credentials$"))
    context.close()

    context, page = page_for(browser, size, lang)
    page.goto(f"{live_server}/shops/{shop_id}?lang={lang}")
    badge = page.locator(".shop-facts .badge.verified")
    assert badge.count() == 1 and badge.is_visible()
    assert no_sideways_scroll(page)
    shot(page, f"{name}-owner")
    context.close()
