"""Every route of the admin area, found in the app's URL map rather than listed by hand,
refuses dealers and staff (403) and sends anonymous visitors to sign in, for every method
it accepts: a page added later is covered without touching this test."""

from __future__ import annotations

import re

import pytest

from tests.helpers import sign_in

PASSWORD = "correct horse battery"


def admin_routes(app) -> list[tuple[str, str]]:
    """(method, path) of each /admin rule, with 1 for every path argument."""
    return [(method, re.sub(r"<[^>]+>", "1", rule.rule))
            for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


@pytest.fixture
def people(make):
    org = make.org("north-motors")
    make.user("dealer", org=org, email="dealer@example.test", password=PASSWORD)
    make.user("staff", email="staff@example.test", password=PASSWORD)


def test_the_admin_area_has_routes_to_guard(app):
    assert len(admin_routes(app)) >= 10


@pytest.mark.parametrize("email", ["dealer@example.test", "staff@example.test"])
def test_dealers_and_staff_get_403_on_every_admin_route(app, people, email):
    client = app.test_client()
    sign_in(client, email, PASSWORD)
    answers = {(method, path): client.open(path, method=method).status_code
               for method, path in admin_routes(app)}
    # A POST without a CSRF token may be refused as a bad request before the role check;
    # either way nothing is done. Every GET must be a plain 403.
    wrong = {route: status for route, status in answers.items()
             if status != 403 and not (route[0] != "GET" and status == 400)}
    assert wrong == {}


def test_anonymous_visitors_are_sent_to_sign_in(app):
    client = app.test_client()
    for method, path in admin_routes(app):
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 302 and "/login" in response.headers["Location"]
