"""Asking for help and following the case in a real browser, on a 360 px phone; staff
pages checked by axe-core too."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_owner_pages import _serious_violations
from tests.test_owner_pages import _seeded_template, database_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def test_owner_asks_for_help_and_follows_the_case(phone, live_server):
    page = phone
    page.goto(f"{live_server}/help")
    page.get_by_label("Your name").fill("Mei Example")
    page.get_by_label("Email address").fill("mei@owner.example")
    page.get_by_label("Phone (optional)").fill("+47 412 34 567")
    page.get_by_label("Model", exact=True).select_option("byd-atto-3")
    page.get_by_label("Country you are in").select_option("NO")
    page.get_by_label("Town or city (optional)").fill("Bergen")
    page.get_by_label("What do you need?").select_option("hv-battery")
    page.get_by_label("Describe the problem").fill("Battery warning after fast charging.")
    page.get_by_label(re.compile("I agree")).check()
    assert no_sideways_scroll(page)
    page.get_by_role("button", name="Send the request").click()
    page.get_by_role("heading", name="Thank you: your request is on its way").wait_for()
    reference = re.search(r"SP-\d{4}-[0-9A-Z]{8}", page.inner_text("main")).group(0)
    page.get_by_role("link", name="Follow your case").first.click()
    page.get_by_label("Case reference").fill(reference)
    page.get_by_label("Email address").fill("MEI@owner.example")
    page.get_by_role("button", name="Show the case").click()
    page.get_by_role("heading", name=f"Case {reference}").wait_for()
    assert "New" in page.inner_text("main") and "+47" not in page.inner_text("main")


def test_help_form_refuses_without_consent_and_keeps_the_input(phone, live_server):
    page = phone
    page.goto(f"{live_server}/help")
    page.get_by_label("Your name").fill("Mei Example")
    page.get_by_label("Email address").fill("mei@owner.example")
    page.get_by_label("Model", exact=True).select_option("byd-atto-3")
    page.get_by_label("Country you are in").select_option("NO")
    page.get_by_label("What do you need?").select_option("hv-battery")
    page.get_by_label("Describe the problem").fill("Battery warning after fast charging.")
    page.get_by_label(re.compile("I agree")).uncheck()
    page.get_by_role("button", name="Send the request").click()
    # Said at the box and in the summary at the top, which takes the focus.
    page.locator("#consent-error").get_by_text(
        "Please agree, so that we can handle your request.").wait_for()
    summary = page.get_by_role("link", name="Please agree, so that we can handle your request.")
    assert summary.get_attribute("href") == "#consent"
    assert page.get_by_label("Your name").input_value() == "Mei Example"


def test_arabic_help_form_reads_right_to_left_at_360px(phone, live_server):
    phone.goto(f"{live_server}/help?lang=ar")
    assert phone.evaluate("document.documentElement.dir") == "rtl"
    assert no_sideways_scroll(phone)


@pytest.mark.parametrize("path", ["/help", "/help?lang=ar", "/cases/status",
                                  "/vehicle?model=byd-atto-3&year=2023&near=Frankfurt+am+Main",
                                  "/vehicle?lang=ar", "/bulletins/BYD-R-2024-001"])
def test_case_and_vehicle_pages_have_no_serious_accessibility_violations(browser, live_server,
                                                                         path):
    assert _serious_violations(browser, f"{live_server}{path}") == []


def test_staff_pages_have_no_serious_accessibility_violations(browser, live_server, make):
    make.user("staff", email="browser-staff@portal.example", password=PASSWORD)
    context = browser.new_context(bypass_csp=True, viewport={"width": 1024, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("browser-staff@portal.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/staff/cases")
    first = page.locator("table.queue tbody a").first.get_attribute("href")
    from tests.browser.test_owner_pages import AXE

    problems = {}
    for path in ("/staff/cases", first, "/staff/dashboard"):
        page.goto(f"{live_server}{path}")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        problems[path] = [v["id"] for v in result["violations"]
                          if v["impact"] in ("serious", "critical")]
    context.close()
    assert problems == {path: [] for path in problems}
