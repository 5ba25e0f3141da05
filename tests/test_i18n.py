"""The twelve catalogs: complete, current, faithful to their placeholders, and every page
renders in every locale with the right direction."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from service_portal.catalogs import POT, TRANSLATIONS_DIR, extract_catalog
from service_portal.config import SUPPORTED_LOCALES

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
MARKUP = re.compile(r"<[^>]+>")
ROOT = Path(__file__).resolve().parent.parent


def catalog(locale: str):
    with (TRANSLATIONS_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def messages(locale: str):
    return [m for m in catalog(locale) if m.id]


def test_committed_template_is_current(tmp_path):
    fresh = tmp_path / "messages.pot"
    extract_catalog(fresh)

    def ids(path: Path) -> set:
        with path.open("rb") as handle:
            return {m.id if isinstance(m.id, str) else tuple(m.id)
                    for m in read_po(handle) if m.id}

    assert ids(fresh) == ids(POT), "run: service-portal translations extract && ... update"


def test_every_template_string_is_in_the_template_catalog():
    """Each template is read on its own, so no folder can be skipped by the extraction."""
    from babel.messages.extract import extract_from_file

    with POT.open("rb") as handle:
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    templates = sorted(p for pattern in ("*.html", "*.txt")
                       for p in (ROOT / "service_portal" / "templates").rglob(pattern))
    assert any("_macros" in str(path) for path in templates)
    found = {(path.name, message if isinstance(message, str) else message[0])
               for path in templates
               for _line, message, _comments, _context in extract_from_file("jinja2", path)}
    assert {(name, m) for name, m in found if m not in known} == set()


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_is_translated_and_not_fuzzy(locale):
    missing = [m.id for m in messages(locale) if m.fuzzy or not (
        all(m.string) if isinstance(m.string, tuple) else m.string)]
    assert missing == []


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalog_holds_every_message_of_the_template(locale):
    with POT.open("rb") as handle:
        wanted = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(handle)
                  if m.id}
    have = {m.id if isinstance(m.id, str) else tuple(m.id) for m in messages(locale)}
    assert wanted <= have


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_translations_keep_placeholders_and_add_no_markup(locale):
    problems = []
    for m in messages(locale):
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        expected = set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0]))
        markup = set(MARKUP.findall(" ".join(ids)))
        for text in strings:
            if not set(PLACEHOLDER.findall(text)) <= expected or (
                    len(ids) == 1 and set(PLACEHOLDER.findall(text)) != expected):
                problems.append((m.id, text))
            if set(MARKUP.findall(text)) - markup:
                problems.append((m.id, text))
    assert problems == []


def test_lazy_gettext_never_takes_data():
    """`_l(...)` renders unescaped in Jinja: it may only wrap literal strings."""
    offenders = []
    for path in (ROOT / "service_portal").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_l":
                if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) \
                        or node.keywords:
                    offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


PAGES = ["/", "/login", "/nothing-here"]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_pages_render_in_every_locale_with_their_direction(client, locale):
    for path in PAGES:
        response = client.get(path, query_string={"lang": locale})
        assert response.status_code in (200, 404)
        tag = locale.replace("_", "-")
        direction = "rtl" if locale == "ar" else "ltr"
        assert f'<html lang="{tag}" dir="{direction}">' in response.get_data(as_text=True)


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED_LOCALES if loc != "en"])
def test_api_errors_come_in_the_requested_language(client, locale):
    english = client.get("/api/v1/shops?lat=1").json["error"]["message"]
    translated = client.get(f"/api/v1/shops?lat=1&lang={locale}").json["error"]["message"]
    assert translated and translated != english


def test_accept_language_picks_the_locale_and_an_explicit_choice_wins(client):
    page = client.get("/", headers={"Accept-Language": "pt-BR,pt;q=0.9"})
    assert b'lang="pt-BR"' in page.data
    page = client.get("/?lang=de", headers={"Accept-Language": "pt-BR"})
    assert b'lang="de"' in page.data


def test_service_names_follow_the_request_language(client, make):
    make.service("hv-battery")
    english = client.get("/api/v1/services").json["results"][0]["name"]
    german = client.get("/api/v1/services?lang=de").json["results"][0]["name"]
    assert english == "High-voltage battery diagnosis and repair" and german != english


@pytest.mark.parametrize("locale, expected", [("en", "12.3 km"), ("en_GB", "7.7 mi"),
                                              ("en_US", "7.7 mi"), ("de", "12,3 km"),
                                              ("ar", "12.3 كم")])
def test_distances_are_formatted_for_the_reader(locale, expected):
    from babel import Locale

    from service_portal.i18n import format_distance

    assert format_distance(12.3456, Locale.parse(locale)) == expected


def test_prices_follow_the_reader_and_keep_their_currency():
    from babel import Locale

    from service_portal.i18n import format_money

    assert format_money(49.9, "EUR", Locale.parse("de")) == "49,90\xa0€"
    assert format_money(49.9, "EUR", Locale.parse("en")) == "€49.90"


@pytest.fixture
def pages_world(make, client):
    from tests.test_cases_api import open_case
    from tests.test_dealer_pages import PASSWORD

    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    service = make.service("hv-battery")
    shop = make.shop(make.org(), brands=[(byd, "authorized")], services=[service],
                     lat=50.11, lon=8.68)
    make.user("staff", email="i18n-staff@portal.example", password=PASSWORD)
    return {"shop": shop, "reference": open_case(client)}


def _labels(html: str) -> list[str]:
    """The page's headings and labels: words of the portal, not of the data."""
    import re

    main = re.search(r"<main[^>]*>(.*)</main>", html, re.S).group(1)
    return re.findall(r"<(?:h2|h3|label|th|legend|button)\b[^>]*>([^<]+)<", main)


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED_LOCALES if loc != "en"])
def test_owner_and_staff_pages_speak_the_readers_language(app, client, pages_world, locale):
    from tests.test_dealer_pages import sign_in

    owner = ["/?lat=50.11&lon=8.68", f"/shops/{pages_world['shop'].id}",
             "/vehicle?model=byd-atto-3&year=2023", "/help", "/cases/status"]
    staff_client = app.test_client()
    sign_in(staff_client, "i18n-staff@portal.example")
    staff = ["/staff/cases", f"/staff/cases/{pages_world['reference']}", "/staff/dashboard",
             "/staff/privacy", "/staff/audit", "/staff/bulletins"]
    for who, paths in ((client, owner), (staff_client, staff)):
        for path in paths:
            glue = "&" if "?" in path else "?"
            english = who.get(f"{path}{glue}lang=en")
            translated = who.get(f"{path}{glue}lang={locale}")
            assert english.status_code == translated.status_code == 200, path
            words = set(_labels(english.text))
            same = set(_labels(translated.text)) & words  # cognates: Status, Model, ...
            assert words and len(same) <= len(words) / 3, (path, locale, same)
