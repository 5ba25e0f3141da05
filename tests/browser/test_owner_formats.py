"""Formats an owner reads, in a real browser at 360 and 1280 px in en, de and ar: a phone
number in the international format that stays left to right in Arabic, the address in the
country's order, lists joined the reader's way, round radius choices."""

from __future__ import annotations

import pytest

from tests.test_owner_pages import _seeded_template, database_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

LIST_WORD = {"en": " and ", "de": " und ", "ar": " و"}


@pytest.mark.parametrize("width", [360, 1280])
@pytest.mark.parametrize("lang", ["en", "de", "ar"])
def test_a_shop_page_reads_in_the_readers_conventions(browser, live_server, lang, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page.goto(f"{live_server}/?near=Frankfurt+am+Main&lang={lang}")
    first_with_phone = page.eval_on_selector_all(
        "li.result", "items => items.filter(li => li.querySelector('a[href^=\"tel:\"]'))"
                     ".map(li => li.querySelector('h3 a').getAttribute('href'))")
    page.goto(f"{live_server}{first_with_phone[0]}?lang={lang}")
    phone = page.locator("a[href^='tel:'] bdi").first
    assert phone.get_attribute("dir") == "ltr"
    assert phone.evaluate("e => getComputedStyle(e).direction") == "ltr"
    shown = phone.inner_text()
    assert shown.startswith("+49 ") and " " in shown[4:], shown  # grouped, not +4969...
    # The address: street first, then "postal code city" (Germany's order).
    lines = page.eval_on_selector_all("address bdi", "items => items.map(i => i.innerText)")
    assert len(lines) >= 2 and lines[1].split(" ", 1)[0].isdigit(), lines
    spoken = page.locator("dd:has(span[lang])").first
    assert spoken.locator("span[lang]").count() >= 2  # the demo shop speaks several
    assert LIST_WORD[lang] in spoken.inner_text(), spoken.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()


@pytest.mark.parametrize("lang, unit", [("en-GB", "mi"), ("de", "km"), ("ar", "كم")])
def test_radius_choices_are_round(browser, live_server, lang, unit):
    page = browser.new_page()
    page.goto(f"{live_server}/?lang={lang}")
    labels = page.eval_on_selector_all("#radius_km option", "os => os.map(o => o.textContent)")
    assert labels and all(unit in label for label in labels), labels
    assert not any("." in label.split()[0] and len(label.split()[0].split(".")[1]) == 1
                   for label in labels), labels
    page.close()
