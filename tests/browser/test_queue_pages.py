"""The staff queue and case page in a real browser at 1280 and 360 px: sorting, a brand
select, bulk assignment, a canned reply inserted into a public reply."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.test_owner_pages import _seeded_template, database_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
EMAIL = "queue-browser@portal.example"
PRIORITY_RANK = {"Low": 0, "Normal": 1, "High": 2, "Urgent": 3}
WIDTHS = [pytest.param((1280, 800), id="desktop"), pytest.param((360, 740), id="phone")]


@pytest.fixture
def signed_in(browser, live_server, make, request):
    """A staff member's page at the test's width, signed in through the form."""
    width, height = request.param
    make.user("staff", email=EMAIL, password=PASSWORD)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/cases$"))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def column(page, index: int) -> list[str]:
    return [text.strip() for text in
            page.locator(f"table.queue tbody tr td:nth-child({index})").all_inner_texts()]


@pytest.mark.parametrize("signed_in", WIDTHS, indirect=True)
def test_staff_sort_filter_and_bulk_assign_in_the_queue(signed_in):
    page = signed_in
    assert no_sideways_scroll(page)
    page.get_by_role("link", name="Priority").click()
    page.wait_for_url(re.compile(r"sort=priority"))
    ranks = [PRIORITY_RANK[text] for text in column(page, 4)]
    assert ranks == sorted(ranks) and len(ranks) > 3
    page.get_by_role("link", name=re.compile("Priority")).click()
    page.wait_for_url(re.compile(r"sort=-priority"))
    ranks = [PRIORITY_RANK[text] for text in column(page, 4)]
    assert ranks == sorted(ranks, reverse=True)

    page.get_by_label("Brand").select_option(label="BYD")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"brand=byd"))
    cars = column(page, 6)
    assert cars and all(car.startswith("BYD") for car in cars)
    row_height = page.locator("table.queue tbody tr").first.bounding_box()["height"]
    assert row_height < 48  # one line a row

    boxes = page.locator('table.queue tbody input[name="reference"]')
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("#bulk-assignee").select_option(EMAIL)
    page.get_by_role("button", name="Apply to the ticked cases").click()
    page.get_by_text("2 cases changed.").wait_for()
    assert column(page, 10).count(EMAIL) >= 2
    assert no_sideways_scroll(page)


@pytest.mark.parametrize("signed_in", WIDTHS, indirect=True)
def test_staff_insert_a_canned_reply_and_send_it_as_a_public_reply(signed_in):
    page = signed_in
    page.locator("table.queue tbody a").first.click()
    reference = re.search(r"SP-\d{4}-[0-9A-Z]{8}", page.url).group(0)
    page.get_by_label("Canned reply").select_option(index=0)
    page.get_by_role("button", name="Insert").click()
    page.wait_for_url(re.compile(r"canned=\d+"))
    text = page.get_by_label("Note", exact=True).input_value()
    assert reference in text and "{name}" not in text
    assert page.get_by_label("Public reply: the owner reads it").is_checked()
    page.get_by_role("button", name="Add the note").click()
    page.get_by_text("The note was added.").wait_for()
    newest = page.locator("ol.history li.note").first
    assert "public" in newest.get_attribute("class")
    assert "Reply to the owner" in newest.inner_text()
    assert no_sideways_scroll(page)
