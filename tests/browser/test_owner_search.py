"""The owner search and forms in a real browser at 360 and 1280 px, in en, de and ar:
results on the first phone screen, the place error at its field, the language switch
keeping the search, list and map linked both ways, the error summary taking the focus."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.test_owner_pages import _seeded_template, database_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SIZES = {"phone": (360, 740), "desktop": (1280, 800)}
LANGS = ("en", "de", "ar")
FRANKFURT = "/?near=Frankfurt+am+Main"


@pytest.fixture(params=[(size, lang) for size in SIZES for lang in LANGS],
                ids=lambda p: f"{p[0]}-{p[1]}")
def screen(request, browser, live_server):
    """A page of the given size whose reader chose the given language; no map tiles from
    the network. Yields (page, base URL, size, lang)."""
    size, lang = request.param
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.route("https://tile.openstreetmap.org/**", lambda route: route.abort())
    page.goto(f"{live_server}/?lang={lang}")
    yield page, live_server, size, lang
    context.close()


def test_results_start_on_the_first_phone_screen(screen):
    page, base, size, _ = screen
    page.goto(f"{base}{FRANKFURT}")
    top = page.eval_on_selector("li.result", "li => li.getBoundingClientRect().top")
    height = page.viewport_size["height"]
    assert top < height
    assert page.eval_on_selector("details", "d => d.open") is False
    if size == "desktop":  # the form beside the results, whole
        assert page.eval_on_selector("#search-form", "f => f.getBoundingClientRect().top") < 300


def test_the_search_button_is_never_clipped_on_desktop(screen):
    page, base, size, _ = screen
    page.goto(f"{base}{FRANKFURT}&sort=best&service=tyres")  # "More filters" open
    assert page.eval_on_selector("details", "d => d.open")
    page.mouse.wheel(0, 1500)
    page.wait_for_timeout(200)
    if size == "desktop":
        hit = page.evaluate("""() => {
            const b = document.querySelector('#search-form button.primary');
            const r = b.getBoundingClientRect();
            const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return r.bottom <= innerHeight && (at === b || b.contains(at));
        }""")
        assert hit


def test_the_form_sends_only_what_the_owner_changed(screen):
    page, base, _, _ = screen
    page.goto(f"{base}/")
    page.fill("#near", "Frankfurt am Main")
    page.click("#search-form button.primary")
    page.wait_for_selector("li.result")
    assert parse_qs(urlsplit(page.url).query) == {"near": ["Frankfurt am Main"]}
    assert page.eval_on_selector("details", "d => d.open") is False


def test_an_unknown_place_is_refused_at_the_place_field(screen):
    page, base, _, _ = screen
    page.goto(f"{base}/?near=Frnakfurt")
    error = page.locator("#near-error")
    assert error.is_visible()
    error_box, field_box = error.bounding_box(), page.locator("#near").bounding_box()
    assert 0 <= field_box["y"] - (error_box["y"] + error_box["height"]) < 40
    assert field_box["y"] + field_box["height"] < page.viewport_size["height"] * 2
    offered = page.locator("#near-error ul.suggestions a").all_inner_texts()
    assert len(offered) == len(set(offered)) and len(offered) >= 3
    page.wait_for_function("document.activeElement.id === 'error-summary'", timeout=3000)


def test_the_language_switch_keeps_the_search(screen):
    page, base, _, lang = screen
    page.goto(f"{base}{FRANKFURT}&brand=byd")
    shops = page.locator("li.result").count()
    other = "de" if lang != "de" else "ar"
    page.select_option("#lang-choice", other)
    page.click("form.language button")
    page.wait_for_url(f"**lang={other}**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["near"] == ["Frankfurt am Main"] and query["brand"] == ["byd"]
    assert page.locator("li.result").count() == shops
    assert page.get_attribute("html", "lang").startswith(other)


def test_list_and_map_highlight_each_other(screen):
    page, base, _, _ = screen
    page.goto(f"{base}{FRANKFURT}&limit=8")
    page.wait_for_function("window.portalMap && window.portalMap.markers.length > 0")
    first = page.locator("li.result").first
    first_id = int(first.get_attribute("data-shop-id"))
    first.locator("h3 a").focus()
    assert page.evaluate("window.portalMap.active") == first_id
    assert page.evaluate("document.querySelectorAll('.leaflet-marker-icon.is-active,"
                         " .marker-cluster.is-active').length") == 1
    # A marker standing alone: choosing it highlights its result and opens its pop-up.
    chosen = page.evaluate("""first => {
        const m = window.portalMap.markers.find(m => m.getElement() && m.shopId !== first);
        m.getElement().click();
        return m.shopId;
    }""", first_id)
    item = page.locator(f"#shop-{chosen}")
    page.wait_for_function(f"document.getElementById('shop-{chosen}')"
                           ".classList.contains('is-active')")
    page.wait_for_function(f"""() => {{  // scrolled into view (smoothly)
        const r = document.getElementById('shop-{chosen}').getBoundingClientRect();
        return r.top < innerHeight && r.bottom > 0; }}""", timeout=3000)
    popup = page.locator(".leaflet-popup-content")
    assert popup.locator(f"a[href$='/shops/{chosen}']").count() == 1
    distance = item.locator(".distance").inner_text()
    assert distance in popup.inner_text()


def test_the_help_forms_error_summary_takes_the_focus(screen):
    page, base, _, _ = screen
    page.goto(f"{base}/help")
    page.click("form.owner-form button.button-primary")
    page.wait_for_load_state("load")
    page.wait_for_function("document.activeElement.id === 'error-summary'", timeout=3000)
    targets = page.eval_on_selector_all("#error-summary a", "as => as.map(a => a.hash)")
    assert "#email" in targets and "#name" in targets
    page.click("#error-summary a[href='#email']")
    assert page.evaluate("document.activeElement.id") == "email"
    # Label above its field, the field as wide as the form.
    label, field = page.locator("label[for=email]").bounding_box(), \
        page.locator("#email").bounding_box()
    assert label["y"] + label["height"] <= field["y"]
    form = page.locator("form.owner-form").bounding_box()
    assert field["width"] >= form["width"] * 0.9
