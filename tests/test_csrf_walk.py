"""The CSRF walk (CONTRACT section 10): every cookie-authenticated write route of the URL
map, posted by an anonymous visitor and by a signed-in dealer, staff member and admin,
without a CSRF token and with another session's valid one, answers 400 and leaves every
table as it was. The routes come from `app.url_map`, never from a list kept by hand: a new
form route is walked the day it is registered."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from service_portal.audit.actors import Actor
from service_portal.bulletins.schemas import BulletinIn
from service_portal.bulletins.services import upsert_bulletin
from service_portal.cases.canned import save_reply
from service_portal.cases.queue_services import save_filter
from service_portal.config import defaults
from service_portal.credentials.models import Credential
from service_portal.markets.services import load_markets
from service_portal.users.models import ApiToken, User
from tests.helpers import changed_tables, csrf_token, sign_in, table_snapshot

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDENTITIES = ("anonymous", "dealer", "staff", "admin")
PASSWORD = "csrf-walk-password"
#: The message of the one CSRF refusal (errors.py): a 400 for any other reason (a form the
#: view finds invalid) does not count as the walk's 400.
CSRF_REFUSAL = "This form has expired or did not come from this site"
OWNER_EMAIL = "owner@mail.example"
#: Every rate limit out of the way: the walk posts far more often than a person would.
NO_RATE_LIMITS = {name: "100000 per minute" for name in defaults() if name.endswith("_LIMIT")}


def is_json_api(rule) -> bool:
    """The walk's one exclusion, by rule: routes under `/api/` are the JSON API. Its
    writes authenticate by bearer token (or not at all: a case may be opened by anyone)
    and never by the session cookie, so a forged cross-site request carries nothing that
    grants more than the forger has already; `test_api_writes_ignore_the_session_cookie`
    proves that for each of them. Everything else is a page a browser posts with its
    cookie, `/login` included: Flask-WTF protects the first post too (login CSRF)."""
    return rule.rule.startswith("/api/")


def is_one_click(rule) -> bool:
    """The other exclusion: an email's unsubscribe link (RFC 8058 one-click), which a mail
    program POSTs with neither cookie nor CSRF token. The signed token in its address is
    its only authority, so a forger must already hold the email; the notification and
    recall alert tests prove that a wrong token changes nothing."""
    return rule.rule.endswith("unsubscribe/<token>")


def write_routes(app) -> list[tuple]:
    return sorted(((rule, method) for rule in app.url_map.iter_rules()
                   for method in sorted(rule.methods & WRITE_METHODS)),
                  key=lambda pair: (pair[0].rule, pair[1]))


def cookie_write_routes(app) -> list[tuple]:
    return [(rule, method) for rule, method in write_routes(app)
            if not (is_json_api(rule) or is_one_click(rule))]


def blueprint_of(rule) -> str:
    return rule.endpoint.rsplit(".", 1)[0]


# --- the demo rows every route is called with ------------------------------------------

@dataclass
class World:
    app: object
    shop_id: int
    reference: str
    bulletin_code: str
    upload_token: str
    emails: dict[str, str]  # the identity's own account
    others: dict[str, str]  # another account of the same role (the forger's)
    token_ids: dict[str, int] = field(default_factory=dict)
    bystander_id: int = 0  # an account the admin pages act on, signed in by no identity
    filter_id: int = 0  # a saved queue filter of the staff identity
    reply_id: int = 0  # a canned reply
    org_id: int = 0  # the identity dealer's organisation (the admin pages act on it)
    credential_id: int = 0  # evidence uploaded for the dealer's shop, waiting for review

    def url_values(self, identity: str) -> dict:
        """Real ids for every URL parameter, the identity's own where it has one (its
        shop, its case, its API token) so that the request would otherwise be allowed."""
        return {"shop_id": self.shop_id, "number": "P-1", "reference": self.reference,
                "code": self.bulletin_code, "token": self.upload_token,
                "token_id": self.token_ids.get(identity, self.token_ids["dealer"]),
                "user_id": self.bystander_id, "filter_id": self.filter_id,
                "org_id": self.org_id, "credential_id": self.credential_id,
                "reply_id": self.reply_id, "cc": "SA"}

    def client(self, identity: str, *, forger: bool = False):
        """A browser of `identity` (the forger's: another account of the same role), signed
        in, having opened a form page; returns it and the CSRF token that page gave it."""
        client = self.app.test_client()
        if identity != "anonymous":
            sign_in(client, (self.others if forger else self.emails)[identity], PASSWORD)
        return client, csrf_token(client.get("/help").text)


def stock_file() -> tuple[io.BytesIO, str]:
    return io.BytesIO(b"part_number,qty,price,currency\nP-1,3,21.50,EUR\n"), "stock.csv"


#: A form a person would send to each route (by endpoint); a route missing here is walked
#: all the same, with an empty form.
FORMS = {
    "users.login": lambda w, who: {"email": w.emails.get(who, w.emails["dealer"]),
                                   "password": PASSWORD, "next": ""},
    "users.tokens": lambda w, who: {"name": "walked token"},
    "email_settings.emails": lambda w, who: {"locale": "de", "new_cases": "y"},
    "account.forgot": lambda w, who: {"email": w.emails.get(who, w.emails["dealer"])},
    "admin.password": lambda w, who: {"password": "a walked passphrase",
                                      "confirm": "a walked passphrase"},
    "cases.request_help": lambda w, who: {
        "name": "Ola Example", "email": OWNER_EMAIL, "phone": "+47 412 34 567",
        "model": "byd-atto-3", "country": "NO", "service": "hv-battery",
        "description": "The car will not charge above 80 percent.", "consent": "y"},
    "cases.status": lambda w, who: {"reference": w.reference, "email": OWNER_EMAIL},
    "notifications.alert_subscribe": lambda w, who: {
        "model": "byd-atto-3", "year": "2023", "country": "NO", "locale": "en",
        "email": OWNER_EMAIL, "consent": "y"},
    "dealer_cases.note": lambda w, who: {"body": "Part arrives Tuesday."},
    "dealer_cases.move": lambda w, who: {"version": "1", "status": "in_repair"},
    "dealer_shops.profile": lambda w, who: {
        "name": "Walk Garage", "phone": "", "email": "", "website": "",
        "opening_hours": "Mo-Fr 08:00-17:00", "languages": "en, de",
        "services": ["hv-battery"], "hv_level": "2S", "hv_valid_until": "", "version": "1"},
    "dealer.edit_line": lambda w, who: {"qty": "0", "min_qty": "2", "version": "1"},
    "dealer.upload": lambda w, who: {"file": stock_file()},
    "staff_bulletins.new": lambda w, who: bulletin_form("BYD-R-2026-777"),
    "staff_bulletins.edit": lambda w, who: bulletin_form(w.bulletin_code),
    "staff_cases.change": lambda w, who: {"version": "1", "status": "triaged"},
    "staff_cases.note": lambda w, who: {"body": "Called the owner.", "internal": "y"},
    "staff_privacy.privacy": lambda w, who: {"action": "export", "email": OWNER_EMAIL},
    "staff_queue.save": lambda w, who: {"name": f"Walked by {who}", "query": "status=new"},
    "staff_queue.bulk": lambda w, who: {"reference": w.reference, "status": "triaged"},
    "credentials.dealer_list": lambda w, who: {
        "kind": "hv", "hv-technician": "Walker", "hv-hv_level": "2S", "hv-issuer": "TÜV",
        "hv-valid_until": "2099-01-01", "hv-file": (io.BytesIO(b"%PDF-1.7\n%%EOF\n"), "c.pdf")},
    "credentials.review_page": lambda w, who: {"version": "1", "action": "verify"},
    "staff_canned.index": lambda w, who: {"locale": "de", "title": f"Walked by {who}",
                                          "body": "Guten Tag {name}", "active": "y"},
    "staff_canned.edit": lambda w, who: {"locale": "en", "title": "Walked", "version": "1",
                                         "body": "Hello {name}, case {reference}."},
    "admin.market": lambda w, who: {
        "time_zone": "Asia/Riyadh", "workdays": ["7", "1", "2", "3", "4"], "opens": "09:00",
        "closes": "16:00", "languages": ["ar", "en"], "currency": "SAR", "distance_unit": "km",
        "retention_days": "400", "version": "1"},
}


def bulletin_form(code: str) -> dict:
    return {"code": code, "kind": "recall", "brand": "byd", "models": ["byd-atto-3"],
            "year_from": "2022", "year_to": "2024", "countries": "DE", "severity": "high",
            "published": "2026-11-01", "texts-en-title": "Coolant hose clamp",
            "texts-en-summary": "Check the clamp.", "texts-en-body": "Replace the clamp.",
            "action": "save"}


@pytest.fixture
def world(make_app, make, tmp_path) -> World:
    app = make_app(**NO_RATE_LIMITS, STORAGE_URL=f"file://{tmp_path / 'evidence'}")
    load_markets(make.session, Actor.command_line("test"))  # the admin's market page
    make.session.commit()
    byd = make.brand("byd", name="BYD")
    make.model(byd, "byd-atto-3", name="Atto 3", year_from=2022)
    service = make.service("hv-battery")
    own, other = make.org("walkers"), make.org("forgers")
    shop = make.shop(own, brands=[(byd, "authorized")], services=[service])
    make.shop(other, brands=[(byd, "partner")], services=[service])
    make.stock(shop, make.part(byd, "P-1"), qty=10)
    emails, others, token_ids = {}, {}, {}
    for role in ("dealer", "staff", "admin"):
        org = own if role == "dealer" else None
        user = make.user(role, org, email=f"{role}@walk.example", password=PASSWORD)
        make.token(user)
        token_ids[role] = make.session.scalar(select(ApiToken.id)
                                              .where(ApiToken.user_id == user.id))
        emails[role] = user.email
        others[role] = make.user(role, other if role == "dealer" else None,
                                 email=f"{role}@forger.example", password=PASSWORD).email
    upsert_bulletin(make.session, BulletinIn.model_validate({
        "code": "BYD-R-2026-001", "kind": "recall", "brand": "byd", "models": ["byd-atto-3"],
        "severity": "high", "published": "2026-10-01",
        "texts": {"en": {"title": "Clamp", "summary": "Check it.", "body": "Replace it."}}}),
        actor=Actor.command_line("test"))
    make.session.commit()
    owner = app.test_client()
    opened = owner.post("/api/v1/cases", json={
        "name": "Ola Example", "email": OWNER_EMAIL, "phone": "+47 412 34 567",
        "model": "byd-atto-3", "country": "NO", "service": "hv-battery", "shop_id": shop.id,
        "description": "The car will not charge above 80 percent.", "consent": True})
    assert opened.status_code == 201, opened.json
    bystander = make.user("staff", email="bystander@walk.example", password=PASSWORD)
    world = World(app, shop.id, opened.json["reference"], "BYD-R-2026-001", "", emails,
                  others, token_ids, bystander.id)
    world.org_id = own.id
    evidence = Credential(shop_id=shop.id, kind="hv", technician="Walker", hv_level="2S",
                          valid_until=datetime(2099, 1, 1, tzinfo=UTC).date(),
                          file_key="walk/none.pdf", file_name="c.pdf",
                          content_type="application/pdf", size=1, sha256="0" * 64,
                          uploaded_by="dealer@walk.example (web)")
    make.session.add(evidence)
    make.session.commit()
    world.credential_id = evidence.id
    staff = make.session.scalar(select(User).where(User.email == emails["staff"]))
    world.filter_id = save_filter(make.session, user_id=staff.id, name="Walked",
                                  query="status=new").id
    world.reply_id = save_reply(make.session, reply=None, locale="en", title="Walked",
                                body="Hello {name}").id
    make.session.commit()
    dealer, token = world.client("dealer")
    file, name = stock_file()
    preview = dealer.post(f"/dealer/shops/{shop.id}/stock/upload",
                          data={"csrf_token": token, "file": (file, name)})
    assert preview.status_code == 200, preview.text
    world.upload_token = re.search(r"/stock/upload/([^\"/?]+)\"", preview.text).group(1)
    return world


def send(client, world: World, identity: str, rule, method: str, *,
         token: str | None = None, header_token: str | None = None):
    values = world.url_values(identity)
    missing = rule.arguments - values.keys()
    assert not missing, f"{rule.rule}: give World.url_values a real value for {missing}"
    path = rule.build(values, append_unknown=False)[1]
    data = FORMS.get(rule.endpoint, lambda w, who: {})(world, identity)
    if token is not None:
        data["csrf_token"] = token
    headers = {"X-CSRFToken": header_token} if header_token else {}
    return client.open(path, method=method, data=data, headers=headers)


def is_csrf_refusal(response) -> bool:
    return response.status_code == 400 and CSRF_REFUSAL in response.text


# --- the walk ---------------------------------------------------------------------------

@pytest.mark.parametrize("identity", IDENTITIES)
def test_forged_writes_are_refused_and_change_nothing(world, identity):
    app = world.app
    engine = app.extensions["service_portal.engine"]
    client, _own_token = world.client(identity)
    _forger, foreign = world.client(identity, forger=True)
    routes = cookie_write_routes(app)
    excluded = [pair for pair in write_routes(app)
                if is_json_api(pair[0]) or is_one_click(pair[0])]
    variants = {"no token": {}, "another session's token": {"token": foreign},
                "another session's token in X-CSRFToken": {"header_token": foreign}}
    problems, walked = [], []
    before = table_snapshot(engine)
    # The clock stands still, so that no session is due its once-a-minute `last_seen_at`
    # touch in the middle of the walk: any change to a table is the request's own.
    with time_machine.travel(datetime.now(UTC), tick=False):
        for rule, method in routes:
            for variant, tokens in variants.items():
                response = send(client, world, identity, rule, method, **tokens)
                after = table_snapshot(engine)
                if not is_csrf_refusal(response):
                    problems.append(f"{method} {rule.rule} with {variant}: "
                                    f"{response.status_code}, not the CSRF 400")
                if after != before:
                    problems.append(f"{method} {rule.rule} with {variant} changed "
                                    f"{changed_tables(before, after)}")
                    before = after
            walked.append((rule.rule, method))
    assert not problems, f"as {identity}:\n" + "\n".join(problems)
    # The walk is not vacuous: every write rule of the URL map but the JSON API's.
    assert len(walked) >= len(write_routes(app)) - len(excluded)
    assert walked == [(rule.rule, method) for rule, method in routes]
    assert client.get("/account/tokens").status_code == (302 if identity == "anonymous"
                                                          else 200)  # still signed in


def test_the_same_writes_with_the_right_token_go_through(world):
    """What the walk refuses is refused for its missing token alone: the same requests with
    the session's own token are accepted and change what is stored, on at least one route
    of every blueprint the walk covers (some routes refuse a role: that is their rule)."""
    app = world.app
    engine = app.extensions["service_portal.engine"]
    routes = cookie_write_routes(app)
    # Signing out everywhere, in and out last: they end or replace the session the other
    # posts are made in.
    last = {"account.sign_out_everywhere": 1, "users.login": 2, "users.logout": 3}
    routes.sort(key=lambda pair: last.get(pair[0].endpoint, 0))
    accepted: dict[str, list[str]] = defaultdict(list)
    for identity in IDENTITIES:
        client, _token = world.client(identity)
        for rule, method in routes:
            token = csrf_token(client.get("/help").text)  # signing in renews the session
            before = table_snapshot(engine)
            response = send(client, world, identity, rule, method, token=token)
            assert not is_csrf_refusal(response), f"{method} {rule.rule} as {identity}"
            if response.status_code < 400 and table_snapshot(engine) != before:
                accepted[blueprint_of(rule)].append(f"{method} {rule.rule} as {identity}")
    walked_blueprints = {blueprint_of(rule) for rule, _method in routes}
    assert walked_blueprints <= accepted.keys(), (
        f"no accepted write in {sorted(walked_blueprints - accepted.keys())}")
    assert len(walked_blueprints) >= 8, walked_blueprints


def test_api_writes_ignore_the_session_cookie(world):
    """The walk's exclusion holds: each JSON API write, sent as a cross-site form would
    send it (form-encoded, no token) or as JSON, with a signed-in user's session cookie,
    answers exactly as it does without any cookie, and a cross-site form changes nothing:
    the cookie is never what lets such a request through."""
    app = world.app
    engine = app.extensions["service_portal.engine"]
    excluded = [pair for pair in write_routes(app) if is_json_api(pair[0])]
    assert len(excluded) >= 10, excluded
    for identity in ("dealer", "staff", "admin"):
        signed_in, _token = world.client(identity)
        stranger = app.test_client()
        for rule, method in excluded:
            path = rule.build(world.url_values(identity), append_unknown=False)[1]
            before = table_snapshot(engine)
            as_form = signed_in.open(path, method=method, data={"body": "x"})
            assert as_form.status_code >= 400, f"{method} {path} as {identity}"
            assert table_snapshot(engine) == before, f"{method} {path} as {identity}"
            assert as_form.status_code == stranger.open(path, method=method,
                                                        data={"body": "x"}).status_code
            as_json = signed_in.open(path, method=method, json={})
            assert as_json.status_code in (401, 422), f"{method} {path} as {identity}"
            assert as_json.status_code == stranger.open(path, method=method,
                                                        json={}).status_code
