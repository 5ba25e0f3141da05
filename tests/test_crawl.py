"""Every page a role can reach by following links answers, and answers fast.

Each role signs in through the real login form on the demo data set, then follows every
same-origin `<a href>` from its start pages, breadth first, through the test client. A
page fails when it answers 5xx or takes a second or more; the failures of a role are
listed together, with its slowest pages.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException

from service_portal import create_app
from service_portal.audit.actors import Actor
from service_portal.db import get_engine, session_scope
from service_portal.reference.load import load_reference
from service_portal.seeding.load import load_seed, reset_demo_passwords
from service_portal.shops.models import Shop
from service_portal.users.models import User
from tests.conftest import PG_URL

MAX_PAGES = 450  # per role (the admin area lists every reference row: WMI codes too)
MAX_PAGES_PER_ROUTE = 100  # so that hundreds of part pages leave room for every other route
MAX_QUERY_VARIANTS = 3  # distinct query strings followed per path
MAX_SERVER_ERRORS_PER_ROUTE = 3  # then the route's other links are counted, not fetched
SLOW_SECONDS = 1.0
DOWNLOAD_SUFFIXES = (".csv", ".xlsx")
#: Served workers load the search before they take requests (cli `_serve`); so does this
#: test, through one untimed public search, before it times anything.
WARM_UP = "/api/v1/shops?near=Berlin&sort=best&open_now=true"
UNLIMITED = "100000 per minute"

START_PAGES = {
    "owner": ["/", "/vehicle", "/help", "/?near=Frankfurt+am+Main"],
    "dealer": ["/dealer/"],
    "staff": ["/"],
    # The admin area first: breadth first from "/" the staff pages would use the budget.
    "admin": ["/admin/shops", "/admin/organizations", "/admin/catalog", "/admin/markets", "/"],
}
#: (what, path pattern, least number of pages of it that must answer 200)
MUST_REACH = {
    "owner": [("the search", r"/", 1), ("a shop page", r"/shops/\d+", 1),
              ("the vehicle page", r"/vehicle", 1), ("the help form", r"/help", 1)],
    "dealer": [("the dealer's shops", r"/dealer/", 1),
               ("a stock page", r"/dealer/shops/\d+/stock", 1),
               ("a shop profile page", r"/dealer/shops/\d+/profile", 1),
               ("a shop's evidence page", r"/dealer/shops/\d+/credentials", 1)],
    "staff": [("the case queue", r"/staff/cases", 1),
              ("case pages", r"/staff/cases/[^/]+(?<!\.csv)", 10),
              ("the evidence to review", r"/staff/credentials", 1)],
    "admin": [("the case queue", r"/staff/cases", 1),
              ("case pages", r"/staff/cases/[^/]+(?<!\.csv)", 10),
              ("the audit log", r"/staff/audit", 1),
              ("the user list", r"/admin/users", 1), ("user pages", r"/admin/users/\d+", 5),
              ("the organisation list", r"/admin/organizations", 1),
              ("organisation pages", r"/admin/organizations/\d+", 3),
              ("the new organisation form", r"/admin/organizations/new", 1),
              ("the shop list", r"/admin/shops", 1), ("shop pages", r"/admin/shops/\d+", 5),
              ("the new shop form", r"/admin/shops/new", 1)],
}


# --- the demo data set, loaded once per module on SQLite ------------------------------

def _load_demo(url: str) -> dict[str, tuple[str, str]]:
    """Load the seed as `service-portal seed` does; (email, password) per signed-in role."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "LOCAL_DEMO": True,
                      "SECRET_KEY": "test-" + "x" * 40})
    try:
        with app.app_context():
            with session_scope(get_engine()) as session:
                load_reference(session, Actor.command_line("test"))
                load_seed(session)
            with session_scope(get_engine()) as session:
                passwords = {email: password
                             for email, _role, password in reset_demo_passwords(session)}
                staff_and_admin = session.execute(select(User.role, User.email).where(
                    User.role.in_(["staff", "admin"]), User.email.in_(passwords))).all()
                # The dealer whose organisation runs the most shops: the most to crawl.
                dealer = session.scalars(
                    select(User.email).join(Shop, Shop.organization_id == User.organization_id)
                    .where(User.role == "dealer", User.email.in_(passwords))
                    .group_by(User.email).order_by(func.count(Shop.id).desc(), User.email)
                    .limit(1)).one()
    finally:
        app.extensions["service_portal.engine"].dispose()
    logins = {role: (email, passwords[email]) for role, email in staff_and_admin}
    logins["dealer"] = (dealer, passwords[dealer])
    return logins


@pytest.fixture(scope="module")
def _seeded_file(_schema_template, tmp_path_factory):
    """SQLite: the migrated template with the demo data loaded, and its logins."""
    if PG_URL:
        return None
    path = tmp_path_factory.mktemp("crawl") / "seeded.db"
    shutil.copyfile(_schema_template, path)
    logins = _load_demo(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return str(path), logins


@pytest.fixture
def database_url(database_url, _seeded_file, tmp_path):
    """This test's database: a copy of the seeded file, or the emptied PostgreSQL one."""
    if _seeded_file is None:
        return database_url
    path = tmp_path / "crawl.db"
    shutil.copyfile(_seeded_file[0], path)
    return f"sqlite:///{path}"


@pytest.fixture
def demo_logins(database_url, _seeded_file) -> dict[str, tuple[str, str]]:
    if _seeded_file is not None:
        return _seeded_file[1]
    return _load_demo(database_url)  # PostgreSQL: emptied per test, so seeded per test


# --- the crawler ------------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.hrefs.append(href)


def links_in(page: str, base: str) -> list[str]:
    """The same-origin page links of `page` as path?query, without fragments or static files."""
    parser = _Links()
    parser.feed(page)
    out = []
    for href in parser.hrefs:
        parts = urlsplit(urljoin(f"http://localhost{base}", href.strip()))
        if parts.scheme not in ("http", "https") or parts.netloc != "localhost":
            continue
        if parts.path.startswith("/static/") or parts.path.rstrip("/") == "/logout":
            continue
        query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
        out.append(parts.path + (f"?{query}" if query else ""))
    return out


@dataclass
class Crawl:
    visited: list[tuple[str, int, float]] = field(default_factory=list)  # url, status, seconds
    failures: list[str] = field(default_factory=list)
    not_fetched: Counter = field(default_factory=Counter)  # route -> links left alone

    def slowest(self, n: int = 5) -> list[str]:
        return [f"{seconds:6.2f} s  {status}  {url}"
                for url, status, seconds in sorted(self.visited, key=lambda v: -v[2])[:n]]

    def answered(self, pattern: str) -> list[str]:
        return [url for url, status, _s in self.visited
                if status == 200 and re.fullmatch(pattern, url.split("?")[0])]


def crawl(app, client, start: list[str]) -> Crawl:
    """Breadth first over GET links; dedupes URLs, caps query variants, pages per route
    and pages in all."""
    result = Crawl()
    adapter = app.url_map.bind("localhost")
    queue, seen, variants = deque(start), set(start), Counter()
    server_errors: Counter = Counter()
    per_route: Counter = Counter()
    for url in start:
        variants[url.split("?")[0]] += 1
    while queue and len(result.visited) < MAX_PAGES:
        url = queue.popleft()
        path = url.split("?")[0]
        try:
            route = adapter.match(path, method="GET", return_rule=True)[0].rule
        except HTTPException:  # not found, or a redirect: the request itself says which
            route = path
        if server_errors[route] >= MAX_SERVER_ERRORS_PER_ROUTE:
            result.not_fetched[route] += 1
            continue
        if per_route[route] >= MAX_PAGES_PER_ROUTE:
            continue
        per_route[route] += 1
        began = time.perf_counter()
        response = client.get(url)
        seconds = time.perf_counter() - began
        status = response.status_code
        result.visited.append((url, status, seconds))
        if status >= 500:
            server_errors[route] += 1
            result.failures.append(f"{status} in {seconds:.2f} s: GET {url}")
        elif seconds >= SLOW_SECONDS:
            result.failures.append(f"slow, {seconds:.2f} s ({status}): GET {url}")
        if 300 <= status < 400 and response.location:
            found = links_in(f'<a href="{response.location}"></a>', url)
        elif response.mimetype == "text/html" and not path.endswith(DOWNLOAD_SUFFIXES):
            found = links_in(response.get_data(as_text=True), url)
        else:
            found = []
        for link in found:
            link_path = link.split("?")[0]
            if link in seen or (link != link_path and variants[link_path] >= MAX_QUERY_VARIANTS):
                continue
            seen.add(link)
            variants[link_path] += 1
            queue.append(link)
    for route, count in result.not_fetched.items():
        result.failures.append(f"{count} more links to {route} not fetched after "
                               f"{MAX_SERVER_ERRORS_PER_ROUTE} server errors there")
    return result


def csrf_token(page: str) -> str:
    field_tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    assert field_tag, "no CSRF token on the sign-in form"
    return re.search(r'value="([^"]+)"', field_tag.group(0)).group(1)


def sign_in(client, email: str, password: str) -> None:
    """Through the form a person uses: read its CSRF token, post, expect the redirect."""
    form = client.get("/login")
    assert form.status_code == 200
    response = client.post("/login", data={"csrf_token": csrf_token(form.get_data(as_text=True)),
                                           "email": email, "password": password, "next": ""})
    assert response.status_code == 302, f"sign-in as {email} answered {response.status_code}"


# --- the test -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", list(START_PAGES))
def test_every_linked_page_answers_without_server_error_within_a_second(
        role, make_app, demo_logins):
    app = make_app(SEARCH_RATE_LIMIT=UNLIMITED, LOGIN_RATE_LIMIT=UNLIMITED,
                   CASE_RATE_LIMIT=UNLIMITED, CASE_LOOKUP_RATE_LIMIT=UNLIMITED,
                   TOKEN_FAILURE_LIMIT=UNLIMITED)
    client = app.test_client()
    assert client.get(WARM_UP).status_code == 200
    if role != "owner":
        sign_in(client, *demo_logins[role])
        start = client.get(START_PAGES[role][0]).get_data(as_text=True)
        assert "Sign out" in start, f"{role}: the start page does not show the user signed in"

    result = crawl(app, client, START_PAGES[role])

    problems = list(result.failures)
    for what, pattern, least in MUST_REACH[role]:
        reached = len(result.answered(pattern))
        if reached < least:
            problems.append(f"reached {reached} of at least {least} x {what} ({pattern}) "
                            "answering 200")
    statuses = Counter(status for _url, status, _s in result.visited)
    assert not problems, (
        f"{role}: {len(problems)} problem(s) over {len(result.visited)} pages "
        f"(statuses {dict(sorted(statuses.items()))}):\n  " + "\n  ".join(problems)
        + "\nslowest pages:\n  " + "\n  ".join(result.slowest()))
