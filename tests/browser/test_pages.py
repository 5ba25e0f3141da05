"""Pages in a real browser: language, direction and a phone-sized screen."""

import pytest

pytestmark = pytest.mark.browser


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_front_page_in_arabic_reads_right_to_left_at_360px(phone, live_server, make):
    make.shop()
    phone.goto(f"{live_server}/?lang=ar")
    assert phone.get_attribute("html", "dir") == "rtl"
    assert phone.get_attribute("html", "lang") == "ar"
    assert no_sideways_scroll(phone)


def test_front_page_works_without_javascript(browser, live_server, make):
    make.shop()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    response = page.goto(f"{live_server}/")
    assert response.status == 200
    assert "1 shop" in page.inner_text("main").splitlines()
    context.close()
