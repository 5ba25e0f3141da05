"""What the portal hands out stays harmless: spreadsheet cells that run no formula however
Excel splits them, names without control characters, download names in any script,
redirects that never leave the site nor repeat the `Host` header, stock held below its
maximum, and id sequences that bulk loads leave ready for the next row."""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from service_portal.cases.models import Case
from service_portal.config import settings_from_env
from service_portal.errors import Invalid
from service_portal.parts.models import Part, Stock
from service_portal.parts.schemas import MAX_QTY
from service_portal.shops.models import Organization, Shop, ShopBrand, ShopLanguage, ShopService
from service_portal.shops.services import upsert_organizations
from service_portal.tabular import to_csv
from service_portal.users.models import ApiToken

PASSWORD = "correct horse battery staple"
FORMULA_START = ("=", "+", "-", "@")
HOSTILE = [
    "=1+1", "+1", "-1", "@SUM(A1)", " =1+1", "\t=1+1", "\r=1", '"=1+1"',
    "Garage;=HYPERLINK(\"http://evil.example\",\"x\")", "a;=1+1", "a,=1+1", "a, -1",
    "a\t=1", "a\n=1", "a\r\n@SUM(A1)", "a;;=1", "a; =1", 'a;"=1"', "x;+1;-1;@1",
]
BENIGN = "Brake pad set, front (rev. B)"


def csrf(page: bytes | str) -> str:
    text = page.decode() if isinstance(page, bytes) else page
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', text).group(1)


def sign_in(client, email: str, next_url: str = ""):
    token = csrf(client.get("/login").data)
    return client.post("/login", data={"email": email, "password": PASSWORD,
                                       "csrf_token": token, "next": next_url})


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def cells_as_excel_may_read(text: str) -> list[str]:
    """Every cell a spreadsheet could make of CSV `text`: read with each list separator
    Excel uses (quotes respected), and split on every separator with quotes ignored."""
    cells = []
    for delimiter in (",", ";", "\t"):
        cells += [c for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
                  for c in row]
    cells += re.split(r"[,;\t\r\n]", text)
    return cells


def formula_cells(text: str) -> list[str]:
    return [c for c in cells_as_excel_may_read(text)
            if c.lstrip(' "\t\r\n').startswith(FORMULA_START)]


@pytest.fixture
def world(make):
    byd = make.brand("byd")
    make.model(byd, "byd-atto-3", year_from=2022)
    service = make.service("hv-battery")
    org = make.org("alpha")
    shop = make.shop(org, external_id="alpha-1", name="Garage;=HYPERLINK(\"http://evil\",\"x\")",
                     brands=[(byd, "authorized")], services=[service])
    for number, name in enumerate([*HOSTILE, BENIGN]):
        make.stock(shop, make.part(byd, f"BYD-{number:03d}", name=name), qty=number)
    make.user("dealer", org, email="dealer@alpha.example", password=PASSWORD)
    make.user("staff", email="agent@portal.example", password=PASSWORD)
    return {"shop": shop, "org": org, "byd": byd,
            "token": make.token(make.user("dealer", org))}


def dealer(app):
    client = app.test_client()
    assert sign_in(client, "dealer@alpha.example").status_code == 302
    return client


# --- 1. Spreadsheet cells --------------------------------------------------------------

@pytest.mark.parametrize("value", HOSTILE)
def test_a_csv_cell_starts_no_formula_under_any_separator(value):
    text = to_csv(["name"], [[value], [5], [None]]).decode("utf-8-sig")
    assert formula_cells(text) == []


def test_neutralising_leaves_ordinary_text_and_numbers_alone():
    text = to_csv(["name", "qty"], [[BENIGN, -3], ["Müller; Söhne", 2.5]]).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "qty"], [BENIGN, "-3"], ["Müller; Söhne", "2.5"]]


def test_stock_export_csv_has_no_formula_cell_under_any_separator(app, world):
    response = dealer(app).get(f"/dealer/shops/{world['shop'].id}/stock.csv")
    assert response.status_code == 200
    text = response.data.decode("utf-8-sig")
    assert formula_cells(text) == []
    names = [row[1] for row in csv.reader(io.StringIO(text))][1:]
    assert len(names) == len(HOSTILE) + 1 and BENIGN in names


def test_stock_export_xlsx_holds_no_formula(app, world):
    response = dealer(app).get(f"/dealer/shops/{world['shop'].id}/stock.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    cells = [cell for row in book.active.iter_rows() for cell in row]
    assert len(cells) > len(HOSTILE) and all(cell.data_type != "f" for cell in cells)
    texts = [str(cell.value) for cell in cells if isinstance(cell.value, str)]
    assert [t for t in texts if t.lstrip(" \t\r\n").startswith(FORMULA_START)] == []


def test_staff_case_export_has_no_formula_cell_under_any_separator(app, client, world):
    response = client.post("/api/v1/cases", json={
        "name": "Ingrid Example", "email": "ingrid@mail.example", "model": "byd-atto-3",
        "country": "DE", "service": "hv-battery", "consent": True,
        "description": "Battery warning light after charging.", "shop_id": world["shop"].id})
    assert response.status_code == 201
    staff = app.test_client()
    sign_in(staff, "agent@portal.example")
    export = staff.get("/staff/cases.csv")
    assert export.status_code == 200 and export.headers["Cache-Control"] == "no-store"
    text = export.data.decode("utf-8-sig")
    assert "HYPERLINK" in text and formula_cells(text) == []


# --- 2. Control characters in names ----------------------------------------------------

@pytest.mark.parametrize("name", ["Ingrid\x1b[31m", "Ingrid\x07", "Ingrid\nExample",
                                  "Ingrid\tExample", "Ing\x85rid", "Ing\u2028rid"])
def test_case_name_with_a_control_character_is_422_naming_the_field(client, world, session,
                                                                     name):
    response = client.post("/api/v1/cases", headers={"Accept-Language": "de"}, json={
        "name": name, "email": "ingrid@mail.example", "model": "byd-atto-3", "country": "DE",
        "service": "hv-battery", "description": "Battery warning light.", "consent": True})
    assert response.status_code == 422
    error = response.json["error"]
    assert error["field"] == "name"
    assert error["details"][0] == {
        "field": "name", "message": "Steuerzeichen und Zeilenumbrüche sind hier nicht erlaubt."}
    assert session.scalar(select(func.count(Case.id))) == 0


def test_a_case_description_keeps_its_line_breaks_but_not_escapes(client, world):
    body = {"name": "Ingrid", "email": "ingrid@mail.example", "model": "byd-atto-3",
            "country": "DE", "service": "hv-battery", "consent": True}
    ok = client.post("/api/v1/cases", json={**body, "description": "Line one\r\n\tline two"})
    assert ok.status_code == 201
    bad = client.post("/api/v1/cases", json={**body, "description": "Line one \x1b[2J two"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "description"
    assert bad.json["error"]["details"][0]["message"] == "Control characters are not allowed here."


def test_shop_profile_name_with_escape_is_422_and_nothing_changes(app, world, session):
    client = dealer(app)
    shop = world["shop"]
    page = client.get(f"/dealer/shops/{shop.id}/profile")
    response = client.post(f"/dealer/shops/{shop.id}/profile", data={
        "csrf_token": csrf(page.data), "name": "Evil\x1b]0;owned\x07 Garage",
        "hv_level": "none", "version": str(shop.version)})
    assert response.status_code == 422
    assert "Control characters and line breaks are not allowed here." in response.text
    session.rollback()
    assert session.get(Shop, shop.id).name == shop.name


SHOP_HEADER = ("external_id,name,organization,brands,services,languages,address,city,"
               "postal_code,country,lat,lon,timezone,phone,email,website,opening_hours\n")


@pytest.mark.parametrize("column, value", [("name", "Bell\x07 Garage"),
                                           ("city", "Frank\x1bfurt"),
                                           ("external_id", "x-\x1b1")])
def test_shop_import_with_a_control_character_names_the_cell_and_stores_nothing(
        cli, write_file, world, session, column, value):
    row = {"external_id": "new-1", "name": "New Garage", "organization": "alpha",
           "brands": "byd", "services": "", "languages": "de", "address": "", "city": "Mainz",
           "postal_code": "", "country": "DE", "lat": "50.0", "lon": "8.27", "timezone": "",
           "phone": "", "email": "", "website": "", "opening_hours": ""} | {column: value}
    out = io.StringIO()
    csv.writer(out).writerow(row.values())
    result = cli("import-shops", str(write_file("shops.csv", SHOP_HEADER + out.getvalue())))
    assert result.exit_code != 0
    assert f"row 2, column {column}: Control characters and line breaks" in result.output
    session.rollback()
    assert session.scalar(select(func.count(Shop.id))) == 1


def test_part_import_with_a_bell_in_a_name_is_refused(client, cli, write_file, world,
                                                       session):
    path = write_file("parts.csv", "part_number,brand,name,category,superseded_by,fits\n"
                                   "BYD-NEW,byd,Ring\x07 ring,brakes,,\n")
    result = cli("import-parts", str(path))
    assert result.exit_code != 0 and "row 2, column name: Control characters" in result.output
    session.rollback()
    assert session.scalar(select(Part.id).where(Part.part_number == "BYD-NEW")) is None


def test_organisation_name_with_escape_is_refused(session, world):
    with pytest.raises(Invalid) as refused:
        upsert_organizations(session, [{"slug": "alpha", "name": "Alpha\x1b[8m", "country": "DE"}])
    assert refused.value.field == "name"
    session.rollback()
    assert session.scalar(select(Organization.name).where(Organization.slug == "alpha")) \
        == world["org"].name


def test_bulletin_title_with_escape_is_422_naming_the_field(client, make, world):
    staff = make.token(make.user("staff"))
    response = client.post("/api/v1/bulletins", headers=auth(staff), json={
        "code": "BYD-R-2026-009", "kind": "recall", "brand": "byd", "severity": "high",
        "published": "2026-11-01", "texts": {"en": {
            "title": "Recall\x1b[5m", "summary": "Check.", "body": "Line one\r\nline two"}}})
    assert response.status_code == 422
    assert response.json["error"]["field"] == "texts.en.title"
    assert client.get("/api/v1/bulletins/BYD-R-2026-009").status_code == 404


def test_token_name_with_escape_is_refused(app, world, session):
    client = dealer(app)
    page = client.get("/account/tokens")
    before = session.scalar(select(func.count(ApiToken.id)))
    response = client.post("/account/tokens", data={"csrf_token": csrf(page.data),
                                                    "name": "ci\x1b[2K"})
    assert response.status_code == 400
    assert "Control characters and line breaks are not allowed here." in response.text
    session.rollback()
    assert session.scalar(select(func.count(ApiToken.id))) == before


# --- 3. Download names -----------------------------------------------------------------

@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_stock_export_of_a_shop_with_a_non_latin_id_names_the_file_both_ways(
        app, world, make, kind):
    shop = make.shop(world["org"], external_id="北京-朝阳-1", name="Beijing EV")
    response = dealer(app).get(f"/dealer/shops/{shop.id}/stock.{kind}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii() and disposition.startswith("attachment;")
    fallback = re.search(r'filename="?([^";]*)"?;', disposition).group(1)
    assert fallback == f"stock---1.{kind}"
    encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
    assert unquote(encoded) == f"stock-北京-朝阳-1.{kind}"


def test_latin_download_names_stay_plain(app, world):
    response = dealer(app).get(f"/dealer/shops/{world['shop'].id}/stock.csv")
    assert response.headers["Content-Disposition"] == "attachment; filename=stock-alpha-1.csv"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_stored_id_with_a_control_character_still_downloads(app, world, make):
    shop = make.shop(world["org"], external_id="old\x1bid", name="Imported long ago")
    response = dealer(app).get(f"/dealer/shops/{shop.id}/stock.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == "attachment; filename=stock-old_id.csv"


# --- 4. Hosts and redirects ------------------------------------------------------------

def test_redirects_never_repeat_the_host_header(client, world):
    for path, location in (("/dealer", "/dealer/"), ("/dealer/", "/login?next=%2Fdealer%2F")):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code in (302, 308)
        assert response.headers["Location"] == location


def test_a_host_outside_trusted_hosts_is_400(make_app, world):
    client = make_app(TRUSTED_HOSTS=["portal.example", ".portal.example"]).test_client()
    page = client.get("/", headers={"Host": "evil.example"})
    assert page.status_code == 400 and "evil" not in page.text
    api = client.get("/api/v1/shops?q=Mainz", headers={"Host": "evil.example"})
    assert api.status_code == 400 and api.json["error"]["code"] == "bad_request"
    redirect = client.get("/dealer", headers={"Host": "evil.example"})
    assert redirect.status_code == 400 and "Location" not in redirect.headers
    assert client.get("/", headers={"Host": "portal.example"}).status_code == 200
    assert client.get("/", headers={"Host": "www.portal.example:8443"}).status_code == 200


def test_trusted_hosts_come_from_the_environment():
    assert settings_from_env({"TRUSTED_HOSTS": " portal.example, .portal.example ,"}) == {
        "TRUSTED_HOSTS": ["portal.example", ".portal.example"]}
    assert "TRUSTED_HOSTS" not in settings_from_env({})


# --- 5. `next` after sign-in -----------------------------------------------------------

@pytest.mark.parametrize("target", ["/dealer/\r\nSet-Cookie: stolen=1", "/\t/evil.example",
                                    "/\n/evil.example", "/dealer/\x1b[2J", "/dealer/\x00",
                                    "/\r\n\r\n<script>alert(1)</script>"])
def test_next_with_a_control_character_falls_back_to_the_start_page(client, world, target):
    response = sign_in(client, "dealer@alpha.example", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dealer/"
    assert "stolen" not in response.headers.get("Set-Cookie", "")


def test_login_page_with_crlf_in_next_is_shown(client, world):
    assert client.get("/login?next=/x%0d%0aSet-Cookie:%20a=1").status_code == 200


def test_next_with_a_local_non_latin_path_is_followed(client, world):
    response = sign_in(client, "dealer@alpha.example", next_url="/dealer/?q=北京")
    assert response.status_code == 302
    assert unquote(response.headers["Location"]) == "/dealer/?q=北京"


# --- 6. MAX_QTY and qty_delta ----------------------------------------------------------

LINE = "BYD-019"  # the benign part's stock line


def stock_line(session, world) -> Stock:
    session.rollback()
    return session.scalars(select(Stock).join(Part, Part.id == Stock.part_id).where(
        Stock.shop_id == world["shop"].id, Part.part_number == LINE)).one()


def test_qty_delta_past_the_maximum_is_refused_like_a_qty_too_high(client, world, session):
    line = stock_line(session, world)
    path = f"/api/v1/dealer/shops/{world['shop'].id}/stock/{LINE}"
    too_high = client.patch(path, headers=auth(world["token"]),
                            json={"qty": MAX_QTY + 1, "version": line.version})
    by_delta = client.patch(path, headers=auth(world["token"]),
                            json={"qty_delta": MAX_QTY - line.qty + 1})
    assert by_delta.status_code == too_high.status_code == 422
    assert by_delta.json["error"]["code"] == too_high.json["error"]["code"]
    assert by_delta.json["error"]["field"] == "qty_delta"
    after = stock_line(session, world)
    assert (after.qty, after.version) == (line.qty, line.version)


def test_qty_delta_up_to_the_maximum_is_taken(client, world, session):
    line = stock_line(session, world)
    response = client.patch(f"/api/v1/dealer/shops/{world['shop'].id}/stock/{LINE}",
                            headers=auth(world["token"]),
                            json={"qty_delta": MAX_QTY - line.qty})
    assert response.status_code == 200 and response.json["qty"] == MAX_QTY


def test_concurrent_deltas_stop_exactly_at_the_maximum(app, world, session):
    line = stock_line(session, world)
    path = f"/api/v1/dealer/shops/{world['shop'].id}/stock/{LINE}"
    first = app.test_client().patch(path, headers=auth(world["token"]),
                                    json={"qty_delta": MAX_QTY - 3 - line.qty})
    assert first.status_code == 200

    def add_one(_n: int) -> int:
        return app.test_client().patch(path, headers=auth(world["token"]),
                                       json={"qty_delta": 1}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(add_one, range(8)))
    assert sorted(statuses) == [200] * 3 + [422] * 5
    assert stock_line(session, world).qty == MAX_QTY


# --- 7. Sequences after bulk loads -----------------------------------------------------

NEW_SHOPS = (SHOP_HEADER
             + "after-seed-1,After Seed One,after-seed,byd:partner,maintenance,de;en,,Mainz,,"
               "DE,50.0,8.27,,,,,\n"
             + "after-seed-2,After Seed Two,after-seed,mg,tyres,fr,,Lyon,,FR,45.76,4.84,,,,,\n")


def test_every_bulk_loaded_kind_of_row_can_be_made_after_seed_with_shops(cli, write_file,
                                                                          session):
    assert cli("init-db").exit_code == 0
    assert cli("seed", "--shops", "50").exit_code == 0
    session.rollback()
    generated_max = session.scalar(select(func.max(Shop.id)))
    result = cli("import-shops", str(write_file("new-shops.csv", NEW_SHOPS)))
    assert result.exit_code == 0, result.output
    session.rollback()
    new = session.scalars(select(Shop).where(Shop.external_id.like("after-seed-%"))).all()
    assert len(new) == 2 and all(shop.id > generated_max for shop in new)
    ids = [shop.id for shop in new]
    for link in (ShopBrand, ShopService, ShopLanguage):
        assert session.scalar(select(func.count()).where(link.shop_id.in_(ids))) >= 2
    part = session.scalars(select(Part.part_number).order_by(Part.id)).first()
    stock = write_file("stock.csv", "shop_external_id,part_number,qty,price,currency\n"
                                    f"after-seed-1,{part},4,10.00,EUR\n"
                                    f"after-seed-2,{part},2,11.00,EUR\n")
    result = cli("import-stock", str(stock))
    assert result.exit_code == 0, result.output
    session.rollback()
    assert session.scalar(select(func.count(Stock.id)).where(Stock.shop_id.in_(ids))) == 2
    # A second generated batch after shops made by the sequence: no collision either way.
    assert cli("seed", "--shops", "60").exit_code == 0
    assert cli("import-shops", str(write_file("more.csv", NEW_SHOPS.replace(
        "after-seed-", "later-")))).exit_code == 0
    session.rollback()
    assert session.scalar(select(func.count(Shop.id)).where(
        Shop.external_id.like("gen-%"))) == 60
