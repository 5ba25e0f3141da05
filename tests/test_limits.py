"""Limits where users hit them (CONTRACT sections 9 and 10): the upload size on the dealer
API import and the dealer page upload, the row and archive-member limits of an import,
and every rate limit on every route the limiter knows of, read from its registry."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import pytest
from openpyxl import Workbook

from service_portal import create_app
from service_portal.config import defaults
from service_portal.security import limiter
from service_portal.tabular import MAX_ROWS, MAX_XLSX_MEMBERS
from tests.helpers import csrf_token, sign_in, table_snapshot

PASSWORD = "limits-password-1"
BOUNDARY = "limits-boundary"
#: Every rate-limit setting (the names CONTRACT section 10's limits are configured by).
LIMIT_SETTINGS = sorted(name for name in defaults() if name.endswith("_LIMIT"))
NO_RATE_LIMITS = {name: "100000 per minute" for name in LIMIT_SETTINGS}


@pytest.fixture
def world(make):
    byd = make.brand("byd")
    org = make.org("limits")
    shop = make.shop(org, external_id="limits-1", brands=[(byd, "authorized")])
    make.stock(shop, make.part(byd, "P-1"), qty=10)
    dealer = make.user("dealer", org, email="dealer@limits.example", password=PASSWORD)
    return {"shop": shop, "token": make.token(dealer), "email": dealer.email}


def engine_of(app):
    return app.extensions["service_portal.engine"]


# --- upload size ------------------------------------------------------------------------

def multipart(total: int, fields: dict[str, str] | None = None) -> bytes:
    """A multipart body of exactly `total` bytes: the form `fields`, then a stock CSV
    (one line for P-1) padded with blank lines, as field "file"."""
    parts = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode() for name, value in (fields or {}).items())
    head = parts + (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                    f'filename="stock.csv"\r\nContent-Type: text/csv\r\n\r\n'
                    "part_number,qty,price,currency\nP-1,3,21.50,EUR\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    room = total - len(head) - len(tail)
    assert room >= 0
    padding = (b" " * 99 + b"\n") * (room // 100) + b" " * (room % 100)
    body = head + padding + tail
    assert len(body) == total
    return body


def uploader(app, world, where: str):
    """Sends a body of a given size to the dealer API import or the dealer page upload, as
    a dealer already signed in (or with a token already used once), so that what the
    upload itself stores can be told from a session's or a token's bookkeeping."""
    client = app.test_client()
    shop_id = world["shop"].id
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    if where == "api":
        auth = {"Authorization": f"Bearer {world['token']}"}
        assert client.get("/api/v1/dealer/shops", headers=auth).status_code == 200
        return lambda total: client.post(f"/api/v1/dealer/shops/{shop_id}/stock/import",
                                         data=multipart(total), content_type=content_type,
                                         headers=auth)
    sign_in(client, world["email"], PASSWORD)
    token = csrf_token(client.get(f"/dealer/shops/{shop_id}/stock").text)
    return lambda total: client.post(f"/dealer/shops/{shop_id}/stock/upload",
                                     data=multipart(total, {"csrf_token": token}),
                                     content_type=content_type)


@pytest.mark.parametrize("where", ["api", "page"])
def test_an_upload_one_byte_over_max_upload_mb_is_413_and_stores_nothing(make_app, world,
                                                                          where):
    app = make_app(MAX_UPLOAD_MB=1)
    upload = uploader(app, world, where)
    before = table_snapshot(engine_of(app))
    response = upload(1024 * 1024 + 1)
    assert response.status_code == 413
    if where == "api":
        assert response.json["error"]["code"] == "too_large"
        assert response.json["error"]["message"] == "The upload is too large."
    else:
        assert response.mimetype == "text/html" and "too_large" in response.text
    assert table_snapshot(engine_of(app)) == before


@pytest.mark.parametrize("where", ["api", "page"])
def test_an_upload_of_exactly_max_upload_mb_is_read(make_app, world, where):
    """The edge of the limit above: a body of exactly MAX_UPLOAD_MB is taken and read."""
    app = make_app(MAX_UPLOAD_MB=1)
    response = uploader(app, world, where)(1024 * 1024)
    assert response.status_code == 200, response.text[:500]
    if where == "api":
        assert response.json["updated"] == 1
    else:
        assert "The file stock.csv is valid." in response.text
        assert "1 changed line" in response.text


# --- rows and archive members of an import ---------------------------------------------

def csv_rows(count: int) -> bytes:
    """A stock CSV of `count` rows after the header: one for P-1, the rest blank (the row
    limit counts blank rows too), so that it is quick to make and to read."""
    return b"part_number,qty,price,currency\nP-1,3,21.50,EUR\n" + b",,,\n" * (count - 1)


@pytest.mark.parametrize("where", ["api", "page"])
def test_an_import_of_one_row_more_than_max_rows_is_refused_and_stores_nothing(
        app, world, where):
    client = app.test_client()
    shop_id = world["shop"].id
    auth = {"Authorization": f"Bearer {world['token']}"}
    data = {"file": (io.BytesIO(csv_rows(MAX_ROWS + 1)), "stock.csv")}
    if where == "api":
        assert client.get("/api/v1/dealer/shops", headers=auth).status_code == 200
        before = table_snapshot(engine_of(app))
        response = client.post(f"/api/v1/dealer/shops/{shop_id}/stock/import", data=data,
                               headers=auth)
        assert response.status_code == 422
        assert response.json["error"]["code"] == "too_many_rows"
        assert response.json["error"]["details"] == [{"limit": "rows", "max": MAX_ROWS}]
    else:
        sign_in(client, world["email"], PASSWORD)
        data["csrf_token"] = csrf_token(client.get(f"/dealer/shops/{shop_id}/stock").text)
        before = table_snapshot(engine_of(app))
        response = client.post(f"/dealer/shops/{shop_id}/stock/upload", data=data)
        assert response.status_code == 422
        assert "100,000 rows" in response.text
    assert table_snapshot(engine_of(app)) == before


def test_an_import_of_exactly_max_rows_is_imported(app, world):
    response = app.test_client().post(
        f"/api/v1/dealer/shops/{world['shop'].id}/stock/import",
        data={"file": (io.BytesIO(csv_rows(MAX_ROWS)), "stock.csv")},
        headers={"Authorization": f"Bearer {world['token']}"})
    assert response.status_code == 200, response.json
    assert response.json["updated"] == 1


def xlsx_with_members(members: int) -> bytes:
    """A valid stock workbook (P-1, qty 3) padded with unused parts to `members` entries."""
    book = Workbook()
    book.active.append(["part_number", "qty", "price", "currency"])
    book.active.append(["P-1", 3, 21.5, "EUR"])
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        names = source.namelist()
        for name in names:
            target.writestr(name, source.read(name))
        for n in range(members - len(names)):
            target.writestr(f"customXml/item{n}.xml", "<x/>")
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as check:
        assert len(check.namelist()) == members
    return out.getvalue()


def test_an_xlsx_with_one_member_too_many_is_refused_and_stores_nothing(app, world):
    client = app.test_client()
    auth = {"Authorization": f"Bearer {world['token']}"}
    assert client.get("/api/v1/dealer/shops", headers=auth).status_code == 200
    before = table_snapshot(engine_of(app))
    response = client.post(
        f"/api/v1/dealer/shops/{world['shop'].id}/stock/import",
        data={"file": (io.BytesIO(xlsx_with_members(MAX_XLSX_MEMBERS + 1)), "stock.xlsx")},
        headers=auth)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "xlsx_too_large"
    assert table_snapshot(engine_of(app)) == before


def test_an_xlsx_with_exactly_max_members_is_imported(app, world):
    response = app.test_client().post(
        f"/api/v1/dealer/shops/{world['shop'].id}/stock/import",
        data={"file": (io.BytesIO(xlsx_with_members(MAX_XLSX_MEMBERS)), "stock.xlsx")},
        headers={"Authorization": f"Bearer {world['token']}"})
    assert response.status_code == 200, response.json
    assert response.json["updated"] == 1


# --- rate limits, from the limiter's registry -------------------------------------------

#: Limited functions that are not views: the route that reaches each, and how.
INNER_LIMITED = {
    "service_portal.cases.api._owner_view._owner_view":
        ("GET", "/api/v1/cases/SP-2026-ABCDEFGH", {"email": "owner@mail.example"}, False),
    "service_portal.cases.api._staff_view._staff_view":
        ("GET", "/api/v1/cases/SP-2026-ABCDEFGH", {}, True),
    "service_portal.home.views._health_detail._health_detail":
        ("GET", "/healthz", {"detail": "1"}, True),
}
#: A search with a place: what the search limit counts.
SEARCH_QUERY = {"lat": "52.52", "lon": "13.405"}
#: Values for URL parameters: a request only has to reach the limit, not a row.
URL_VALUES = {"shop_id": 1, "number": "P-1", "reference": "SP-2026-ABCDEFGH", "code": "X-1",
              "token": "x", "token_id": 1, "kind": "csv", "name": "status", "slug": "x",
              "part_number": "P-1"}


@dataclass(frozen=True)
class Limited:
    """One rate limit on one route: the setting it is read from and the request that
    draws on it."""

    setting: str | None
    method: str
    path: str
    query: dict
    bearer: bool  # sent with a (wrong) bearer token
    problem: str | None = None

    def __str__(self) -> str:
        return f"{self.setting} {self.method} {self.path}"


def _setting_of(app, limit) -> str | None:
    """Which setting a limit reads: each setting is given a value of its own, and the one
    the limit's provider returns names it."""
    provider = limit.limit_provider
    marked = {name: f"{n + 1} per day" for n, name in enumerate(LIMIT_SETTINGS)}
    app.config.update(marked)
    with app.app_context():
        value = provider() if callable(provider) else provider
    return next((name for name, mark in marked.items() if mark == value), None)


def _exempt(app, limit, method: str, path: str, query: dict) -> bool:
    """Whether the limit lets this request by uncounted (its `exempt_when`: the help
    form's page, the search page without a place)."""
    if limit.exempt_when is None:
        return False
    with app.test_request_context(path, method=method, query_string=query):
        return bool(limit.exempt_when())


def limited_routes() -> list[Limited]:
    """Every (limit, route, method) in the limiter's registry: limits decorated on views,
    on functions that views call, and on blueprints. A limited function the test does not
    know how to reach, or a limit read from no known setting, is a case that fails."""
    app = create_app({"DATABASE_URL": "sqlite://", "TESTING": True, "SECRET_KEY": "x" * 40})
    manager = limiter.limit_manager
    views = {f"{f.__module__}.{f.__name__}.{f.__qualname__}": endpoint
             for endpoint, f in app.view_functions.items()}
    out: list[Limited] = []

    def add_rules(limit, rules) -> None:
        setting = _setting_of(app, limit)
        wanted = {m.upper() for m in limit.methods} if limit.methods else None
        for rule in rules:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                values = {a: URL_VALUES.get(a, "x") for a in rule.arguments}
                path = rule.build(values, append_unknown=False)[1]
                query = SEARCH_QUERY if setting == "SEARCH_RATE_LIMIT" else {}
                if (wanted is None or method in wanted) \
                        and not _exempt(app, limit, method, path, query):
                    out.append(Limited(setting, method, path, query, False))

    for name, limits in manager._decorated_limits.items():  # the registry has no public view
        for limit in limits:
            if name in views:
                add_rules(limit, app.url_map.iter_rules(views[name]))
            elif name in INNER_LIMITED:
                method, path, query, bearer = INNER_LIMITED[name]
                out.append(Limited(_setting_of(app, limit), method, path, query, bearer))
            else:
                out.append(Limited(None, "?", name, {}, False,
                                   problem=f"{name} is rate-limited: add its route to "
                                           "INNER_LIMITED"))
    for blueprint, limits in manager._blueprint_limits.items():
        for limit in limits:
            add_rules(limit, [r for r in app.url_map.iter_rules()
                              if r.endpoint.startswith(blueprint + ".")])
    for limit in [*manager._application_limits, *manager._default_limits]:
        out.append(Limited(_setting_of(app, limit), "*", "*", {}, False,
                           problem="an application-wide limit: exercise it on every route"))
    app.extensions["service_portal.engine"].dispose()
    return out


LIMITED = limited_routes()


def attempt(client, case: Limited, n: int):
    """One request of the kind `case.setting` counts (a failure where only failures
    count), the n-th of the test."""
    headers = {}
    if case.setting == "TOKEN_FAILURE_LIMIT" or case.bearer:
        headers["Authorization"] = "Bearer spt_not-a-token"
    if case.method == "GET":
        return client.get(case.path, query_string=case.query, headers=headers)
    if case.path.startswith("/api/"):
        return client.open(case.path, method=case.method, json={}, headers=headers)
    token = csrf_token(client.get("/login").text)
    # A limit per address written to (recall alerts) counts one address's requests.
    email = "alerts@limits.example" if case.setting == "ALERT_RATE_LIMIT" else \
        f"nobody{n}@limits.example"
    form = {"csrf_token": token, "email": email,
            "password": "wrong password", "reference": "SP-2026-ABCDEFGH", "next": ""}
    return client.open(case.path, method=case.method, data=form, headers=headers)


def test_the_registry_holds_the_limits_of_contract_section_10():
    """Login, token use, case creation (and its status lookup) and the public search are
    limited, each on every route that offers it."""
    settings = {case.setting for case in LIMITED}
    assert settings >= {"LOGIN_RATE_LIMIT", "TOKEN_FAILURE_LIMIT", "CASE_RATE_LIMIT",
                        "CASE_LOOKUP_RATE_LIMIT", "SEARCH_RATE_LIMIT"}
    paths = {(case.method, case.path) for case in LIMITED}
    assert {("POST", "/login"), ("POST", "/help"), ("POST", "/api/v1/cases"),
            ("GET", "/api/v1/shops"), ("GET", "/"), ("POST", "/cases/status")} <= paths
    assert len([c for c in LIMITED if c.setting == "TOKEN_FAILURE_LIMIT"]) >= 10


@pytest.mark.parametrize("case", LIMITED, ids=str)
def test_every_rate_limit_answers_429_with_retry_after(make_app, case):
    assert case.problem is None, case.problem
    assert case.setting is not None, f"{case}: the limit reads no known *_LIMIT setting"
    app = make_app(**(NO_RATE_LIMITS | {case.setting: "2 per minute"}))
    client = app.test_client()
    for n in range(2):
        response = attempt(client, case, n)
        assert response.status_code not in (429, 500), (n, response.status_code)
    response = attempt(client, case, 2)
    assert response.status_code == 429
    retry_after = response.headers["Retry-After"]
    # At most the limit's window (a minute), rounded up to whole seconds.
    assert retry_after.isdigit() and 0 < int(retry_after) <= 61
    if case.path.startswith("/api/"):
        assert response.json == {"error": {
            "code": "rate_limited", "field": None, "details": [],
            "message": "Too many requests. Please wait a moment and try again."}}
    else:
        assert response.mimetype == "text/html"
        assert "rate_limited" in response.text
        assert "Too many requests. Please wait a moment and try again." in response.text
