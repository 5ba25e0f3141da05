"""No input produces a 500: every page route (GET and POST), called anonymously, as staff
and as a dealer with malformed path values, parameters and form fields, on the demo data.
The JSON API gets the same treatment from schemathesis in test_openapi.py."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from service_portal.cases.models import Case
from service_portal.users.models import User
from service_portal.users.services import set_password
from tests.test_owner_pages import _seeded_template, database_url  # noqa: F401 (fixtures)

GARBAGE = ["", "x", "-1", "0", "1e309", "nan", "\x00", "%00", "ä" * 300, "<script>",
           "99999999999", "1,2", "true", "[]", "SP-2026-XXXXXXXX", "in_repair", "BYD-1"]
PARAMS = ["q", "near", "status", "limit", "offset", "brand", "model", "vin", "year", "part",
          "country", "lang", "email", "breached", "shop_id", "sort", "radius_km", "lat", "lon",
          "service", "kind", "entity_type", "action"]
FIELDS = ["version", "status", "priority", "shop_id", "assignee", "bulletin_codes", "body",
          "internal", "qty", "min_qty", "name", "hv_level", "action", "opening_hours", "code",
          "kind", "brand", "severity", "published", "email", "phone", "vin", "model", "year",
          "country", "place", "service", "description", "consent", "reference", "confirm"]
PASSWORD = "no-server-errors-123"


@pytest.fixture
def clients(make_app, session):
    app = make_app(WTF_CSRF_ENABLED=False, SEARCH_RATE_LIMIT="100000/minute",
                   CASE_RATE_LIMIT="100000/minute", CASE_LOOKUP_RATE_LIMIT="100000/minute",
                   LOGIN_RATE_LIMIT="100000/minute")
    out = {"anonymous": app.test_client()}
    for role in ("staff", "dealer"):
        user = session.scalars(select(User).where(User.role == role).order_by(User.id)).first()
        set_password(session, user, PASSWORD)
        session.commit()
        client = app.test_client()
        signed_in = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert signed_in.status_code == 302, f"{role} sign-in refused: {signed_in.status_code}"
        assert client.get("/account/tokens").status_code == 200, f"{role} is not signed in"
        out[role] = client
    references = session.scalars(select(Case.reference).limit(2)).all()
    return app, out, references


def test_no_page_route_answers_500_to_malformed_input(clients):
    app, by_role, references = clients
    rng = random.Random(2026)
    rules = [r for r in app.url_map.iter_rules()
             if not r.rule.startswith(("/static", "/api/")) and r.methods & {"GET", "POST"}]
    errors, calls = [], 0
    for rule in rules:
        for role, client in by_role.items():
            for _ in range(5):
                values = {a: rng.choice([*references, *GARBAGE, "1", "csv"])
                          for a in rule.arguments}
                try:
                    path = rule.build(values, append_unknown=False)[1]
                except (ValueError, TypeError):
                    continue
                if "GET" in rule.methods:
                    response = client.get(path, query_string={
                        rng.choice(PARAMS): rng.choice(GARBAGE) for _ in range(3)})
                    calls += 1
                    errors += [(role, "GET", path)] if response.status_code >= 500 else []
                if "POST" in rule.methods:
                    response = client.post(path, data={
                        name: rng.choice(GARBAGE) for name in rng.sample(FIELDS, 12)})
                    calls += 1
                    errors += [(role, "POST", path)] if response.status_code >= 500 else []
    assert calls > 200 and errors == []
