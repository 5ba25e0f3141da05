"""Dealer pages over HTTP with real cookies and CSRF tokens: sign-in, stock, upload, export."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from service_portal.parts.models import Stock

PASSWORD = "correct horse battery staple"


def csrf(page: bytes | str) -> str:
    text = page.decode() if isinstance(page, bytes) else page
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text).group(1)


@pytest.fixture
def world(make):
    byd = make.brand("byd")
    part = make.part(byd, "BYD-OLD", name="=HYPERLINK(\"http://x\")")
    out = {}
    for name in ("alpha", "beta"):
        org = make.org(name)
        shop = make.shop(org, external_id=f"{name}-1", name=f"{name.title()} Shop")
        make.stock(shop, part, qty=10)
        make.user("dealer", org, email=f"{name}@dealer.example", password=PASSWORD)
        out[name] = shop
    return out


def sign_in(client, email: str, password: str = PASSWORD, next_url: str = ""):
    token = csrf(client.get("/login").data)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token, "next": next_url})


def test_sign_in_lands_on_my_shops(client, world):
    response = sign_in(client, "alpha@dealer.example")
    assert response.status_code == 302 and response.headers["Location"] == "/dealer/"
    page = client.get("/dealer/")
    assert b"Alpha Shop" in page.data and b"Beta Shop" not in page.data
    assert page.headers["Cache-Control"] == "no-store"


def test_wrong_password_is_refused_without_saying_which(client, world):
    response = sign_in(client, "alpha@dealer.example", "wrong password!")
    assert response.status_code == 401 and b"Wrong email or password" in response.data
    assert sign_in(client, "nobody@dealer.example").status_code == 401


def test_sign_in_without_csrf_token_fails(client, world):
    response = client.post("/login", data={"email": "alpha@dealer.example",
                                           "password": PASSWORD})
    assert response.status_code == 400


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil",
                                    "javascript:alert(1)"])
def test_next_never_leaves_the_site(client, world, target):
    response = sign_in(client, "alpha@dealer.example", next_url=target)
    assert response.headers["Location"] == "/dealer/"


def test_next_within_the_site_is_followed(client, world):
    shop = world["alpha"]
    response = sign_in(client, "alpha@dealer.example", next_url=f"/dealer/shops/{shop.id}/stock")
    assert response.headers["Location"] == f"/dealer/shops/{shop.id}/stock"


def test_a_cookie_saved_before_sign_out_is_refused_afterwards(client, world, app):
    sign_in(client, "alpha@dealer.example")
    saved = client.get_cookie("session").value
    token = csrf(client.get("/dealer/").data)
    client.post("/logout", data={"csrf_token": token})
    other = app.test_client()
    other.set_cookie("session", saved)
    response = other.get("/dealer/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_session_id_changes_at_sign_in(client, world):
    client.get("/login")
    before = client.get_cookie("session").value
    sign_in(client, "alpha@dealer.example")
    assert client.get_cookie("session").value != before


def test_pages_of_another_organisations_shop_are_404(client, world):
    sign_in(client, "alpha@dealer.example")
    beta = world["beta"]
    for url in (f"/dealer/shops/{beta.id}/stock", f"/dealer/shops/{beta.id}/stock.csv",
                f"/dealer/shops/{beta.id}/stock/BYD-OLD/history"):
        assert client.get(url).status_code == 404


def test_inline_edit_saves_and_a_stale_form_is_refused(client, world, session):
    shop = world["alpha"]
    sign_in(client, "alpha@dealer.example")
    page = client.get(f"/dealer/shops/{shop.id}/stock").data
    token = csrf(page)
    url = f"/dealer/shops/{shop.id}/stock/BYD-OLD"
    ok = client.post(url, data={"csrf_token": token, "qty": "7", "min_qty": "2",
                                "version": "1"})
    assert ok.status_code == 303
    stale = client.post(url, data={"csrf_token": token, "qty": "9", "min_qty": "2",
                                   "version": "1"}, follow_redirects=True)
    assert b"Someone else changed this" in stale.data
    session.rollback()
    assert session.scalars(select(Stock.qty).where(Stock.shop_id == shop.id)).one() == 7


def test_upload_preview_lists_bad_rows_and_stores_nothing(client, world, session):
    shop = world["alpha"]
    sign_in(client, "alpha@dealer.example")
    token = csrf(client.get(f"/dealer/shops/{shop.id}/stock").data)
    csv = b"part_number,qty,price,currency\nBYD-OLD,x,1,EUR\nNOPE,1,1,EUR\n"
    response = client.post(f"/dealer/shops/{shop.id}/stock/upload",
                           data={"csrf_token": token, "file": (io.BytesIO(csv), "s.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert b"Unknown part number: NOPE" in response.data and b"<td>2</td>" in response.data
    session.rollback()
    assert session.scalars(select(Stock.qty).where(Stock.shop_id == shop.id)).one() == 10


def test_upload_preview_then_commit(client, world, session):
    shop = world["alpha"]
    sign_in(client, "alpha@dealer.example")
    token = csrf(client.get(f"/dealer/shops/{shop.id}/stock").data)
    csv = b"part_number,qty,price,currency\nBYD-OLD,3,1,EUR\n"
    preview = client.post(f"/dealer/shops/{shop.id}/stock/upload",
                          data={"csrf_token": token, "file": (io.BytesIO(csv), "s.csv")},
                          content_type="multipart/form-data")
    assert preview.status_code == 200 and b"1 changed line" in preview.data
    session.rollback()
    assert session.scalars(select(Stock.qty).where(Stock.shop_id == shop.id)).one() == 10
    action = re.search(rb'action="([^"]+/upload/[^"]+)"', preview.data).group(1).decode()
    done = client.post(action, data={"csrf_token": csrf(preview.data)})
    assert done.status_code == 303
    session.rollback()
    assert session.scalars(select(Stock.qty).where(Stock.shop_id == shop.id)).one() == 3


def test_exports_neutralise_formulas(client, world):
    shop = world["alpha"]
    sign_in(client, "alpha@dealer.example")
    text = client.get(f"/dealer/shops/{shop.id}/stock.csv").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    book = load_workbook(io.BytesIO(client.get(f"/dealer/shops/{shop.id}/stock.xlsx").data))
    names = [row[1] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert names == ["'=HYPERLINK(\"http://x\")"]


def test_dealer_pages_need_a_dealer(client, world, make):
    make.user("staff", email="staff@x.example", password=PASSWORD)
    assert client.get("/dealer/").status_code == 302
    sign_in(client, "staff@x.example")
    assert client.get("/dealer/").status_code == 403


def test_sign_in_is_rate_limited_per_address(make_app, world):
    client = make_app(LOGIN_RATE_LIMIT="3 per minute").test_client()
    for _ in range(3):
        assert sign_in(client, "alpha@dealer.example", "wrong password!").status_code == 401
    response = sign_in(client, "alpha@dealer.example", "wrong password!")
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_staff_sessions_end_after_30_idle_minutes(client, world, make, session):
    from datetime import timedelta

    from sqlalchemy import update

    from service_portal.db import utcnow
    from service_portal.users.models import UserSession

    make.user("staff", email="idle@x.example", password=PASSWORD)
    sign_in(client, "idle@x.example")
    assert b"Sign out" in client.get("/").data
    session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    session.commit()
    assert b"Sign out" not in client.get("/").data


def test_rate_limits_are_shared_through_redis(make_app, world):
    """Two apps (as two workers would be) count against the same limit in Redis."""
    import uuid

    storage = "redis://127.0.0.1:6379"
    first = make_app(RATELIMIT_STORAGE_URI=storage, LOGIN_RATE_LIMIT="3 per minute",
                     RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}")
    prefix = first.config["RATELIMIT_KEY_PREFIX"]
    statuses = []
    for _ in range(2):
        statuses.append(sign_in(first.test_client(), "alpha@dealer.example", "nope nope!")
                        .status_code)
    second = make_app(RATELIMIT_STORAGE_URI=storage, LOGIN_RATE_LIMIT="3 per minute",
                      RATELIMIT_KEY_PREFIX=prefix)
    for _ in range(2):
        statuses.append(sign_in(second.test_client(), "alpha@dealer.example", "nope nope!")
                        .status_code)
    assert statuses == [401, 401, 401, 429]


def profile_form(page: bytes) -> dict:
    text = page.decode()
    version = re.search(r'name="version" type="hidden" value="(\d+)"', text) or \
        re.search(r'id="version" name="version" type="hidden" value="(\d+)"', text)
    return {"csrf_token": csrf(text), "version": version.group(1) if version else "1"}


def test_profile_saves_with_phone_in_e164_and_audits(client, world, session, make):
    shop = world["alpha"]
    make.service("hv-battery")
    sign_in(client, "alpha@dealer.example")
    url = f"/dealer/shops/{shop.id}/profile"
    base = profile_form(client.get(url).data)
    response = client.post(url, data={**base, "name": "Alpha EV", "phone": "069 1234567",
                                      "opening_hours": "Mo-Fr 08:00-18:00",
                                      "languages": "de, PT-br", "services": ["hv-battery"],
                                      "hv_level": "2S", "hv_valid_until": "2028-01-31",
                                      "action": "save"})
    assert response.status_code == 303
    session.rollback()
    session.expire_all()  # the shop row was loaded before the request changed it
    from service_portal.audit.models import AuditEntry
    from service_portal.shops.models import Shop, ShopLanguage

    saved = session.get(Shop, shop.id)
    assert (saved.name, saved.phone, saved.hv_level, saved.version) == ("Alpha EV",
                                                                        "+49691234567", "2S", 2)
    assert set(session.scalars(select(ShopLanguage.language)
                               .where(ShopLanguage.shop_id == shop.id))) == {"de", "pt-BR"}
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "shop.profile")).one()
    assert entry.before["name"] == "Alpha Shop" and entry.after["name"] == "Alpha EV"


@pytest.mark.parametrize("field, value, message", [
    ("opening_hours", "Mon to Fri 8-6", b"Not valid OpenStreetMap opening hours"),
    ("phone", "12", b"Not a valid phone number"),
    ("website", "javascript:alert(1)", b"Not a web address"),
    ("languages", "klingon", b"Not a language code"),
])
def test_profile_refuses_bad_values_and_changes_nothing(client, world, session, field, value,
                                                        message):
    shop = world["alpha"]
    sign_in(client, "alpha@dealer.example")
    url = f"/dealer/shops/{shop.id}/profile"
    base = profile_form(client.get(url).data)
    data = {**base, "name": "Changed", "hv_level": "none", "action": "save", field: value}
    response = client.post(url, data=data)
    assert response.status_code == 422 and message in response.data
    session.rollback()
    session.expire_all()  # the shop row was loaded before the request changed it
    from service_portal.shops.models import Shop

    assert session.get(Shop, shop.id).name == "Alpha Shop"


def test_profile_hours_preview_shows_local_times_without_saving(client, world, session):
    shop = world["alpha"]
    sign_in(client, "alpha@dealer.example")
    url = f"/dealer/shops/{shop.id}/profile"
    base = profile_form(client.get(url).data)
    response = client.post(url, data={**base, "name": "Alpha Shop", "hv_level": "none",
                                      "opening_hours": "Mo-Su 09:00-17:00",
                                      "action": "preview"})
    assert response.status_code == 200 and b"Europe/Berlin" in response.data
    # Seven days, each from 09:00 (never "now") to 17:00.
    table = response.data[response.data.index(b'<table class="hours"'):]
    table = table[:table.index(b"</table>")]
    assert table.count(b'<th scope="row">') == 7
    assert table.count(b"09:00") == 7 and table.count(b"17:00") == 7
    session.rollback()
    session.expire_all()  # the shop row was loaded before the request changed it
    from service_portal.shops.models import Shop

    assert session.get(Shop, shop.id).opening_hours == "Mo-Fr 08:00-18:00"


def test_profile_with_a_stale_version_is_refused(client, world, session):
    shop = world["alpha"]
    sign_in(client, "alpha@dealer.example")
    url = f"/dealer/shops/{shop.id}/profile"
    base = profile_form(client.get(url).data)
    first = client.post(url, data={**base, "name": "One", "hv_level": "none", "action": "save"})
    assert first.status_code == 303
    second = client.post(url, data={**base, "name": "Two", "hv_level": "none",
                                    "action": "save"})
    assert second.status_code == 409 and b"Someone else changed this" in second.data


def test_tokens_are_shown_once_and_can_be_revoked(client, world):
    sign_in(client, "alpha@dealer.example")
    page = client.get("/account/tokens")
    created = client.post("/account/tokens", data={"csrf_token": csrf(page.data),
                                                   "name": "warehouse"})
    token = re.search(rb'id="new-token" readonly value="([^"]+)"', created.data).group(1)
    assert len(token) >= 40
    api = {"Authorization": f"Bearer {token.decode()}"}
    assert client.get("/api/v1/dealer/shops", headers=api).status_code == 200
    listing = client.get("/account/tokens")
    assert token not in listing.data and b"warehouse" in listing.data
    action = re.search(rb'action="(/account/tokens/\d+/revoke)"', listing.data).group(1)
    client.post(action.decode(), data={"csrf_token": csrf(listing.data)})
    assert client.get("/api/v1/dealer/shops", headers=api).status_code == 401


def test_writes_to_another_organisations_shop_are_404_and_change_nothing(client, world,
                                                                         session):
    beta = world["beta"]
    sign_in(client, "alpha@dealer.example")
    token = csrf(client.get("/dealer/").data)
    attempts = [
        (f"/dealer/shops/{beta.id}/stock/BYD-OLD", {"qty": "0", "min_qty": "0",
                                                     "version": "1"}),
        (f"/dealer/shops/{beta.id}/stock/upload",
         {"file": (io.BytesIO(b"part_number,qty,price,currency\nBYD-OLD,0,1,EUR\n"), "s.csv")}),
        (f"/dealer/shops/{beta.id}/stock/upload/sometoken", {}),
        (f"/dealer/shops/{beta.id}/profile", {"name": "Taken", "hv_level": "none",
                                               "version": "1", "action": "save"}),
    ]
    for url, data in attempts:
        response = client.post(url, data={"csrf_token": token, **data},
                               content_type="multipart/form-data")
        assert response.status_code == 404, url
    assert client.get(f"/dealer/shops/{beta.id}/profile").status_code == 404
    session.rollback()
    session.expire_all()
    from service_portal.shops.models import Shop

    assert session.get(Shop, beta.id).name == "Beta Shop"
    assert session.scalars(select(Stock.qty).where(Stock.shop_id == beta.id)).one() == 10
