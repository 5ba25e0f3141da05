"""People read words, not codes: every owner, dealer and staff page, in German and Arabic,
shows no slug of the seed catalog and no raw ISO timestamp in its visible text.

A small world with the seed's own slugs (a BYD Atto 3, its services, parts of seed
categories) is given a history through the real surfaces: an owner's request, staff moving
the case through its statuses and priorities, notes, a dealer's stock change and profile
save. Then each role follows every link from its start pages, as `test_crawl` does, and
each page's visible text (no tags, scripts, styles or attribute values) is checked.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from service_portal.parts.models import PART_CATEGORIES
from service_portal.reference import REFERENCE_DIR
from tests.helpers import csrf_token, sign_in

PASSWORD = "correct horse battery"
ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
MAX_PAGES = 120
SKIPPED = (".csv", ".xlsx", ".svg", ".json", ".js", ".css", ".png")


def _seed_slugs() -> frozenset[str]:
    slugs: set[str] = set(PART_CATEGORIES)
    for name in ("brands.csv", "models.csv", "services.csv"):
        with (REFERENCE_DIR / name).open(encoding="utf-8") as handle:
            slugs.update(row["slug"] for row in csv.DictReader(handle))
    return frozenset(slugs)


SLUGS = _seed_slugs()
with (REFERENCE_DIR / "brands.csv").open(encoding="utf-8") as _brands:
    BRANDS = frozenset(row["slug"] for row in csv.DictReader(_brands))
#: Slugs that are also plain English words (`tyres`, `filters`): a code only when they
#: stand alone, as a value after a label or in a list; other slugs are codes anywhere.
WORDS = frozenset(slug for slug in SLUGS if slug.isalpha() and slug not in BRANDS)
CODES = SLUGS - WORDS
# A slug on its own: not inside a longer word, a part number or a hyphenated name.
CODE_PATTERN = re.compile(r"(?<![\w.-])(" + "|".join(
    re.escape(slug) for slug in sorted(CODES, key=len, reverse=True)) + r")(?![\w-])")
SEGMENTS = re.compile(r"[,;:·()|/\u060c]")


class VisibleText(HTMLParser):
    """The text a reader sees: character data outside <script>, <style> and <template>."""

    HIDDEN = {"script", "style", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(" ".join(data.split()))


def problems_in(html: str) -> tuple[list[str], list[str]]:
    """(codes and raw timestamps found in the visible text, the page's links)."""
    parser = VisibleText()
    parser.feed(html)
    found = []
    for node in parser.parts:
        found += [f"slug {m.group(1)!r} in “{node[:120]}”" for m in CODE_PATTERN.finditer(node)]
        found += [f"slug {segment.strip()!r} in “{node[:120]}”"
                  for segment in SEGMENTS.split(node) if segment.strip() in WORDS]
        found += [f"ISO time in “{node[:120]}”" for _m in ISO_MOMENT.finditer(node)]
    return found, parser.links


def test_the_check_finds_codes_and_raw_times():
    page = ("<p>Kategorie: brakes</p><td>byd (2023)</td><li>sla_due: 2026-12-06T07:27:10+00:00"
            "</li><p title='tyres'>Saved filters</p><script>var a = 'byd-atto-3'</script>")
    problems, _links = problems_in(page)
    assert len(problems) == 3, problems


# --- the world ------------------------------------------------------------------------

def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(make, app):
    byd = make.brand("byd", name="BYD")
    make.model(byd, "byd-atto-3", name="Atto 3", year_from=2022)
    hv = make.service("hv-battery")
    tyres = make.service("tyres")
    upkeep = make.service("maintenance")
    org = make.org("rheinblick-e-mobil")
    shop = make.shop(org, brands=[(byd, "authorized")], services=[hv, tyres, upkeep],
                     languages=["de", "en", "ar"], city="Frankfurt am Main",
                     opening_hours="Mo-Fr 08:00-18:00; Sa 09:00-12:00")
    pads = make.part(byd, "BYD-10000001-00", name="Brake pad set", category="brakes")
    radar = make.part(byd, "BYD-10000002-00", name="Front radar sensor", category="adas")
    make.stock(shop, pads, qty=3)
    make.stock(shop, radar, qty=1)
    dealer = make.user("dealer", org, email="dealer@rheinblick.example", password=PASSWORD)
    staff = make.user("staff", email="agent@portal.example", password=PASSWORD)
    make.user("admin", email="admin@portal.example", password=PASSWORD)
    staff_token, dealer_token = make.token(staff), make.token(dealer)

    client = app.test_client()
    opened = client.post("/api/v1/cases", json={
        "name": "Ingrid Example", "email": "ingrid@mail.example", "phone": "0151 23456789",
        "model": "byd-atto-3", "year": 2023, "country": "DE", "service": "hv-battery",
        "description": "Die Batteriewarnleuchte brennt nach dem Laden.", "consent": True,
        "shop_id": shop.id})
    assert opened.status_code == 201, opened.json
    reference = opened.json["reference"]
    for body in ({"status": "triaged", "priority": "urgent"},
                 {"status": "assigned", "assignee": staff.email},
                 {"status": "in_repair"}, {"status": "waiting_parts", "priority": "normal"},
                 {"status": "in_repair"}):
        version = client.get(f"/api/v1/cases/{reference}", headers=auth(staff_token)).json
        changed = client.patch(f"/api/v1/cases/{reference}", headers=auth(staff_token),
                               json={"version": version["version"], **body})
        assert changed.status_code == 200, changed.json
    for internal in (False, True):
        noted = client.post(f"/api/v1/cases/{reference}/notes", headers=auth(staff_token),
                            json={"body": "The part is ordered.", "internal": internal})
        assert noted.status_code in (200, 201), noted.json
    moved = client.patch(f"/api/v1/dealer/shops/{shop.id}/stock/BYD-10000001-00",
                         headers=auth(dealer_token), json={"qty_delta": -1})
    assert moved.status_code == 200, moved.json

    dealer_client = app.test_client()
    sign_in(dealer_client, dealer.email, PASSWORD)
    page = dealer_client.get(f"/dealer/shops/{shop.id}/profile")
    saved = dealer_client.post(f"/dealer/shops/{shop.id}/profile", data={
        "csrf_token": csrf_token(page.text), "name": shop.name, "phone": "+49 69 1234567",
        "email": "", "website": "", "opening_hours": "Mo-Fr 08:00-18:00",
        "languages": "de, ar", "services": ["hv-battery", "tyres"], "hv_level": "2S",
        "hv_valid_until": "2027-06-30", "version": "1", "action": "save"})
    assert saved.status_code == 303, saved.text
    return {"shop": shop, "reference": reference, "owner_email": "ingrid@mail.example",
            "dealer": dealer.email, "staff": staff.email, "admin": "admin@portal.example"}


# --- the crawl ------------------------------------------------------------------------

def crawl(client, starts: list[str], owner_case: tuple[str, str] | None = None):
    """Visit every same-origin page reachable from `starts`; yield (path, problems)."""
    seen: set[str] = set()
    queue = deque(starts)
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        problems, links = problems_in(response.text)
        yield path, problems
        for href in links:
            parts = urlsplit(urljoin(path, href))
            if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if (parts.path.endswith(SKIPPED) or parts.path.startswith(("/api/", "/static/"))
                    or "lang=" in parts.query or target in seen):
                continue
            queue.append(target)
    if owner_case:
        page = client.get("/cases/status")
        response = client.post("/cases/status", data={
            "csrf_token": csrf_token(page.text), "reference": owner_case[0],
            "email": owner_case[1]})
        assert response.status_code == 200
        yield "/cases/status (the owner's case)", problems_in(response.text)[0]


@pytest.mark.parametrize("locale", ["de", "ar"])
@pytest.mark.parametrize("role", ["owner", "dealer", "staff", "admin"])
def test_pages_show_names_and_formatted_times(app, world, role, locale):
    client = app.test_client()
    client.get(f"/?lang={locale}")  # the choice is kept in a cookie
    shop = world["shop"]
    if role == "owner":
        starts = ["/", "/?near=Frankfurt+am+Main&service=hv-battery", "/help",
                  "/vehicle?model=byd-atto-3&year=2023", f"/shops/{shop.id}",
                  "/parts/BYD-10000001-00"]
    else:
        sign_in(client, world[role], PASSWORD)
        starts = (["/dealer/", "/dealer/cases", f"/dealer/cases/{world['reference']}",
                   f"/dealer/shops/{shop.id}/stock/BYD-10000001-00/history",
                   f"/dealer/shops/{shop.id}/profile", "/account/tokens"]
                  if role == "dealer" else
                  ["/staff/cases", f"/staff/cases/{world['reference']}", "/staff/dashboard",
                   "/staff/audit", "/staff/bulletins", "/staff/privacy", "/account/tokens"])
    owner_case = (world["reference"], world["owner_email"]) if role == "owner" else None
    visited, failures = 0, []
    for path, problems in crawl(client, starts, owner_case):
        visited += 1
        failures += [f"{path}: {problem}" for problem in problems]
    assert visited >= len(starts) + (role != "owner")
    print(f"{role}/{locale}: {visited} pages")
    assert not failures, "\n".join(failures)
