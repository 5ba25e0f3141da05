"""The dealer's stock, a part's stock history and the token page on a 360 px phone and a
1280 px screen: no sideways scrolling of the page, and no word broken letter by letter."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"
LONG_NAMES = ("Hochvoltbatterie-Kühlmittelschlauch mit Schnellkupplung",
              "Ladeanschlussabdeckungsverriegelungsaktuator", "Front radar sensor",
              "Blind spot radar, rear left")

#: Each word of each table cell (split at spaces and hyphens) must sit on one line: a word
#: whose characters land on two lines was broken inside. Also the cells' break rules.
BROKEN_WORDS = """() => {
  const broken = [];
  for (const cell of document.querySelectorAll("main td, main th")) {
    const style = getComputedStyle(cell);
    if (style.wordBreak === "break-all" || style.overflowWrap === "anywhere") {
      const text = cell.textContent.trim().slice(0, 40);
      broken.push(`rule ${style.wordBreak}/${style.overflowWrap} on ${text}`);
    }
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.parentElement.getClientRects().length) continue;  // hidden
      const re = /[^\\s\\-\\u2010]+/g;
      let m;
      while ((m = re.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                             .map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


@pytest.fixture
def dealer_world(make):
    byd = make.brand("byd", name="BYD")
    org = make.org("rheinblick-e-mobil")
    shop = make.shop(org, brands=[(byd, "authorized")], name="E-Autohaus Gleichstrom Fechenheim")
    for n, name in enumerate(LONG_NAMES * 3):
        part = make.part(byd, f"BYD-1{n:07d}-00", name=name)
        make.stock(shop, part, qty=n, min_qty=2)
    dealer = make.user("dealer", org, email="dealer@rheinblick.example", password=PASSWORD)
    make.token(dealer, name="Warenwirtschaft Anbindung Lager Fechenheim")
    return {"shop": shop, "dealer": dealer}


def _signed_in_page(browser, live_server, width: int, locale: str):
    context = browser.new_context(viewport={"width": width, "height": 740 if width < 600 else 800},
                                  locale=locale)
    page = context.new_page()
    page.goto(f"{live_server}/login?lang={locale}")
    page.fill("input[name=email]", "dealer@rheinblick.example")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{live_server}/dealer/**")
    return context, page


def _check(page, width: int, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"phone-layouts-{name}-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, \
        f"{name} scrolls sideways at {width} px"
    assert page.evaluate(BROKEN_WORDS) == [], f"{name} breaks words at {width} px"


@pytest.mark.parametrize("locale", ["de", "ar"])
@pytest.mark.parametrize("width", [360, 1280])
def test_dealer_stock_and_history_fit_without_broken_words(browser, live_server, dealer_world,
                                                           width, locale):
    context, page = _signed_in_page(browser, live_server, width, locale)
    shop_id = dealer_world["shop"].id
    page.goto(f"{live_server}/dealer/shops/{shop_id}/stock")
    _check(page, width, f"stock-{locale}")
    page.locator("input[name=qty]").first.fill("7")
    page.locator("table.stock-lines button[type=submit]").first.click()
    page.wait_for_load_state()
    page.goto(f"{live_server}/dealer/shops/{shop_id}/stock/BYD-10000000-00/history")
    _check(page, width, f"history-{locale}")
    context.close()


@pytest.mark.parametrize("width", [360, 1280])
def test_token_page_fits_copies_and_asks_before_revoking(browser, live_server, dealer_world,
                                                         width):
    context, page = _signed_in_page(browser, live_server, width, "en")
    page.goto(f"{live_server}/account/tokens")
    page.fill("#name", "Kassensystem")
    page.get_by_role("button", name="Create token").click()
    page.locator("#new-token").wait_for()
    _check(page, width, "tokens")
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    revoke = page.get_by_role("button", name="Yes, revoke it")
    assert not revoke.first.is_visible(), "revoking needs a second, confirming step"
    page.locator("details.confirm summary").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    revoke.first.click()
    page.get_by_text("The token is revoked.").wait_for()
    context.close()
