"""Rules of CONTRACT sections 5 and 10 as a user or an attacker meets them, where the
mutation run (`scripts/mutations.py`) found no test watching: the session cookie's flags,
argon2id hashes, tokens kept out of addresses and logs, the dealer API for dealers only,
all-or-nothing stock writes, escaped case descriptions and `next` staying on this site."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from service_portal.parts.models import Part, Stock
from service_portal.security import new_token
from service_portal.users.models import User
from tests.helpers import csrf_token, sign_in, table_snapshot

PASSWORD = "contract-rules-password"
DEALER = "dealer@rules.example"
STAFF = "staff@rules.example"
OWNER_EMAIL = "owner@mail.example"


@pytest.fixture
def world(make):
    byd = make.brand("byd", name="BYD")
    make.model(byd, "byd-atto-3", year_from=2022)
    service = make.service("hv-battery")
    org = make.org("rules")
    shop = make.shop(org, external_id="rules-1", brands=[(byd, "authorized")],
                     services=[service])
    make.stock(shop, make.part(byd, "P-1"), qty=10)
    make.part(byd, "P-2")
    dealer = make.user("dealer", org, email=DEALER, password=PASSWORD)
    staff = make.user("staff", email=STAFF, password=PASSWORD)
    # An admin who belongs to the dealer's organisation: still not a dealer.
    admin = make.user("admin", org, email="admin@rules.example", password=PASSWORD)
    owner = make.user("owner", email="owner@rules.example", password=PASSWORD)
    return {"shop": shop, "dealer_token": make.token(dealer),
            "tokens": {"staff": make.token(staff), "admin": make.token(admin),
                       "owner": make.token(owner)}}


def engine_of(app):
    return app.extensions["service_portal.engine"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def post_login(client, email: str, *, next_url: str = "", **kw):
    token = csrf_token(client.get("/login", **kw).text)
    return client.post("/login", data={"email": email, "password": PASSWORD,
                                       "csrf_token": token, "next": next_url}, **kw)


def session_cookie_flags(response) -> set[str]:
    cookie = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith("session="))
    return {part.strip().lower() for part in cookie.split(";")[1:]}


# --- cookies and passwords --------------------------------------------------------------

def test_the_session_cookie_is_httponly_and_samesite_lax(client, world):
    response = post_login(client, DEALER)
    assert response.status_code == 302
    flags = session_cookie_flags(response)
    assert "httponly" in flags and "samesite=lax" in flags


def test_the_session_cookie_is_secure_outside_the_local_demo(make_app, world):
    client = make_app(LOCAL_DEMO=False).test_client()
    # Over HTTPS, Flask-WTF also checks that a form post comes from this site (Referer).
    response = post_login(client, DEALER, base_url="https://localhost",
                          headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302
    flags = session_cookie_flags(response)
    assert {"secure", "httponly", "samesite=lax"} <= flags


def test_passwords_are_stored_as_argon2id_and_sign_in_keeps_them_so(client, world, session):
    assert post_login(client, STAFF).status_code == 302
    session.rollback()
    hashes = session.scalars(select(User.password_hash)).all()
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)


# --- tokens: only in the Authorization header, never logged -----------------------------

@pytest.mark.parametrize("name", ["access_token", "token", "api_key", "bearer"])
def test_a_valid_token_in_the_address_is_not_accepted(client, world, name):
    response = client.get("/api/v1/dealer/shops", query_string={name: world["dealer_token"]})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_a_new_token_is_shown_in_the_page_and_in_no_address(client, world):
    sign_in(client, DEALER, PASSWORD)
    page = client.get("/account/tokens")
    response = client.post("/account/tokens", data={"csrf_token": csrf_token(page.text),
                                                    "name": "workshop tablet"})
    assert response.status_code == 200 and "Location" not in response.headers
    shown = re.search(r"spt_[A-Za-z0-9_-]{40,}", response.text).group(0)
    addresses = re.findall(r'(?:href|action|src)="([^"]*)"', response.text)
    assert addresses and not [a for a in addresses if shown in a]
    assert client.get("/api/v1/dealer/shops", headers=bearer(shown)).status_code == 200


def test_no_token_reaches_the_logs(client, world, caplog):
    """Tokens good, bad, revoked-looking and of the wrong role, used on reads and writes,
    and one made on the tokens page: none of them is in any log record."""
    caplog.set_level(logging.DEBUG)
    shop_id = world["shop"].id
    guessed = new_token()
    tokens = [world["dealer_token"], guessed, *world["tokens"].values()]
    for token in tokens:
        client.get("/api/v1/dealer/shops", headers=bearer(token))
        client.patch(f"/api/v1/dealer/shops/{shop_id}/stock/P-1", json={"qty_delta": 1},
                     headers=bearer(token))
        client.get("/api/v1/cases", headers=bearer(token))
    sign_in(client, DEALER, PASSWORD)
    made = client.post("/account/tokens", data={
        "csrf_token": csrf_token(client.get("/account/tokens").text), "name": "logged?"})
    tokens.append(re.search(r"spt_[A-Za-z0-9_-]{40,}", made.text).group(0))
    # A forged form (no CSRF token) is logged: the check below reads real records.
    client.post("/account/tokens", data={"name": "forged"}, headers=bearer(tokens[0]))
    assert caplog.records, "nothing was logged: the check would be vacuous"
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}"
                       for r in caplog.records)
    assert not [t for t in tokens if t in logged or t.removeprefix("spt_") in logged]
    assert PASSWORD not in logged


# --- the dealer API is a dealer's -------------------------------------------------------

def dealer_api_routes(app) -> list[tuple[str, str]]:
    """Every method of every route under /api/v1/dealer, from the URL map."""
    values = {"shop_id": None, "number": "P-1", "part_number": "P-1", "code": "X-1"}
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/dealer/"):
            continue
        missing = rule.arguments - values.keys()
        assert not missing, f"{rule.rule}: give the test a value for {missing}"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule))
    return out


@pytest.mark.parametrize("role", ["staff", "admin", "owner"])
def test_other_roles_get_403_on_every_dealer_route_and_change_nothing(app, world, role):
    client = app.test_client()
    shop_id = world["shop"].id
    routes = dealer_api_routes(app)
    assert len(routes) >= 5, routes
    before = table_snapshot(engine_of(app))
    bodies = {"PUT": {"items": [{"part_number": "P-1", "qty": 0, "price": "1.00",
                                 "currency": "EUR"}], "mode": "replace"},
              "PATCH": {"qty_delta": -10}}
    for method, rule in routes:
        path = (rule.replace("<id:shop_id>", str(shop_id)).replace("<path:number>", "P-1")
                .replace("<part_number>", "P-1").replace("<code>", "X-1"))
        if method == "POST":
            response = client.post(path, headers=bearer(world["tokens"][role]),
                                   data={"file": (_stock_csv(), "stock.csv")})
        else:
            response = client.open(path, method=method, json=bodies.get(method),
                                   headers=bearer(world["tokens"][role]))
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json["error"]["code"] == "forbidden"
    # Each refused request still notes its token's use; nothing else may change.
    after = table_snapshot(engine_of(app))
    assert {k for k in before if before[k] != after[k]} <= {"api_tokens"}


def _stock_csv():
    import io

    return io.BytesIO(b"part_number,qty,price,currency\nP-1,0,1.00,EUR\n")


# --- a write is all or nothing ----------------------------------------------------------

@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_a_stock_put_with_one_bad_line_stores_none_of_it(app, world, session, mode):
    client = app.test_client()
    before = table_snapshot(engine_of(app))
    response = client.put(f"/api/v1/dealer/shops/{world['shop'].id}/stock",
                          headers=bearer(world["dealer_token"]), json={"mode": mode, "items": [
                              {"part_number": "P-1", "qty": 3, "price": "5.00",
                               "currency": "EUR"},
                              {"part_number": "P-2", "qty": 4, "price": "6.00",
                               "currency": "EUR"},
                              {"part_number": "NO-SUCH-PART", "qty": 1, "price": "1.00",
                               "currency": "EUR"}]})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "unknown_part"
    after = table_snapshot(engine_of(app))
    assert {k for k in before if before[k] != after[k]} <= {"api_tokens"}
    session.rollback()
    stored = session.execute(select(Part.part_number, Stock.qty)
                             .join(Part, Part.id == Stock.part_id)).all()
    assert stored == [("P-1", 10)]


# --- user text escaped, redirects kept on this site -------------------------------------

def test_a_case_description_is_shown_as_text_to_staff_and_dealers(app, world):
    hostile = "Charging stops at 80 <script>alert(1)</script> <img src=x onerror=alert(2)>"
    opened = app.test_client().post("/api/v1/cases", json={
        "name": "Ola Example", "email": OWNER_EMAIL, "model": "byd-atto-3", "country": "NO",
        "service": "hv-battery", "description": hostile, "shop_id": world["shop"].id,
        "consent": True})
    assert opened.status_code == 201, opened.json
    reference = opened.json["reference"]
    for email, path in ((STAFF, f"/staff/cases/{reference}"),
                        (DEALER, f"/dealer/cases/{reference}")):
        client = app.test_client()
        sign_in(client, email, PASSWORD)
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.mark.parametrize("target", [
    "https://evil.example/", "http://evil.example", "//evil.example/path",
    "https:evil.example", "javascript:alert(1)", "evil.example/x", "/\\evil.example",
])
def test_sign_in_never_leads_to_another_site(client, world, target):
    response = post_login(client, DEALER, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dealer/"


def test_sign_in_follows_a_next_on_this_site(client, world):
    response = post_login(client, DEALER, next_url="/dealer/cases?x=1")
    assert response.status_code == 302 and response.headers["Location"] == "/dealer/cases?x=1"
