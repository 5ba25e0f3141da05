"""Markets: the reference file (26 countries, an operator's edit survives a reload), the
public `GET /api/v1/markets/<cc>`, and the admin pages (list with names, a versioned and
audited edit, refused input that changes nothing, admins only)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, time

import pytest
import time_machine
from sqlmodel import select

from service_portal.audit.actors import Actor
from service_portal.audit.models import AuditEntry
from service_portal.markets.models import Market
from service_portal.markets.services import MARKETS_FILE, load_markets
from tests.helpers import csrf_token, sign_in, table_snapshot

PASSWORD = "correct horse battery"
SHOPS_CSV = MARKETS_FILE.parents[2] / "seed" / "shops.csv"


@pytest.fixture
def markets(session):
    load_markets(session, Actor.command_line("test"))
    session.commit()


@pytest.fixture
def people(make):
    return {"admin": make.user("admin", email="admin@example.test", password=PASSWORD),
            "staff": make.user("staff", email="staff@example.test", password=PASSWORD)}


def _admin(app, email="admin@example.test"):
    client = app.test_client()
    sign_in(client, email, PASSWORD)
    return client


# --- the reference file -------------------------------------------------------------------

def test_every_demo_shop_country_has_a_market(session, markets):
    with SHOPS_CSV.open(encoding="utf-8") as handle:
        countries = {row["country"] for row in csv.DictReader(handle)}
    stored = set(session.exec(select(Market.country)).all())
    assert len(countries) == 26 and countries <= stored


def test_saudi_arabia_works_sunday_to_thursday(session, markets):
    saudi = session.get(Market, "SA")
    assert set(saudi.workdays) == set("71234") and saudi.time_zone == "Asia/Riyadh"
    assert saudi.currency == "SAR" and saudi.distance_unit == "km"


def test_eu_markets_carry_the_batteries_regulation(session, markets):
    for country in ("DE", "FR", "NL", "SE"):
        assert "2023/1542" in session.get(Market, country).takeback_rules
    assert "2023/1542" not in session.get(Market, "SA").takeback_rules
    assert session.get(Market, "GB").distance_unit == "mi"


def test_loading_again_changes_nothing(session, markets, app):
    before = table_snapshot(app.extensions["service_portal.engine"])
    assert load_markets(session, Actor.command_line("test")) == {
        "created": 0, "updated": 0, "unchanged": 26, "kept": 0}
    session.commit()
    assert table_snapshot(app.extensions["service_portal.engine"]) == before


def test_loading_again_leaves_an_operators_edit_alone(session, markets):
    germany = session.get(Market, "DE")
    germany.retention_days, germany.edited_by = 90, "admin@example.test (web)"
    germany.edited_at = datetime.now(UTC)
    session.commit()
    counts = load_markets(session, Actor.command_line("test"))
    session.commit()
    assert session.get(Market, "DE").retention_days == 90 and counts["kept"] == 1


# --- the API ----------------------------------------------------------------------------------

def test_the_api_answers_a_market_with_its_rules(client, markets):
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False):
        response = client.get("/api/v1/markets/sa")
    assert response.status_code == 200
    body = response.json
    assert body["country"] == "SA"
    assert body["support"] == {"time_zone": "Asia/Riyadh", "workdays": [1, 2, 3, 4, 7],
                               "opens": "09:00", "closes": "17:00"}
    assert body["languages"] == ["ar", "en"] and body["currency"] == "SAR"
    assert body["distance_unit"] == "km" and body["retention_days"] > 0
    assert body["recall_authority"]["name"] and body["rmi_note"]
    assert body["battery_takeback_rules"]
    days = [h["date"] for h in body["holidays"]]
    assert days == sorted(days) and "2026-12-01" <= days[0] and days[-1] <= "2027-12-01"
    assert all(h["name"] for h in body["holidays"])


def test_holidays_are_named_in_the_requests_language(client, markets):
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False):
        german = client.get("/api/v1/markets/DE?lang=de").json["holidays"]
        english = client.get("/api/v1/markets/DE?lang=en").json["holidays"]
    assert {"date": "2026-12-25", "name": "Erster Weihnachtstag"} in german
    assert any(h["date"] == "2026-12-25" and "Christmas" in h["name"] for h in english)


@pytest.mark.parametrize("code", ["US", "QQ"])
def test_a_country_without_a_market_is_a_404(client, markets, code):
    response = client.get(f"/api/v1/markets/{code}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/markets/DEU", "/api/v1/markets/1",
                                  "/api/v1/markets/%C3%A9e", "/api/v1/markets/DE?x=1"])
def test_a_malformed_request_is_a_400(client, markets, path):
    response = client.get(path)
    assert response.status_code == 400
    assert set(response.json["error"]) >= {"code", "message", "field"}


def test_the_market_route_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "get" in paths["/api/v1/markets/{cc}"]


# --- the admin pages -------------------------------------------------------------------------

def _form(market: Market, **changes) -> dict:
    data = {"time_zone": market.time_zone, "workdays": list(market.workdays),
            "opens": market.opens.strftime("%H:%M"), "closes": market.closes.strftime("%H:%M"),
            "languages": market.languages, "currency": market.currency,
            "distance_unit": market.distance_unit, "retention_days": str(market.retention_days),
            "recall_authority": market.recall_authority, "recall_url": market.recall_url,
            "rmi_note": market.rmi_note, "takeback_rules": market.takeback_rules,
            "version": str(market.version)}
    data.update(changes)
    return data


def test_the_list_shows_countries_by_name_with_their_support_hours(app, people, markets):
    page = _admin(app).get("/admin/markets?lang=en")
    assert page.status_code == 200
    assert "Saudi Arabia" in page.text and "Germany" in page.text
    assert "Sun–Thu" in page.text and 'class="cards-on-phones"' in page.text
    assert "26 markets" in page.text


def test_the_list_filters_and_sorts(app, people, markets):
    client = _admin(app)
    page = client.get("/admin/markets?q=kba&lang=en")
    assert "Germany" in page.text and "Saudi Arabia" not in page.text
    assert client.get("/admin/markets?sort=-retention").status_code == 200
    assert client.get("/admin/markets?state=edited&lang=en").text.count("/admin/markets/") == 0
    assert client.get("/admin/markets?sort=bogus").status_code == 400
    assert client.get("/admin/markets?state=bogus").status_code == 400


def test_an_admin_edits_a_market_and_the_edit_is_audited(app, session, people, markets):
    client = _admin(app)
    page = client.get("/admin/markets/SA")
    assert page.status_code == 200
    saudi = session.get(Market, "SA")
    response = client.post("/admin/markets/SA", data={
        "csrf_token": csrf_token(page.text),
        **_form(saudi, retention_days="365", closes="16:00")})
    assert response.status_code == 303
    session.rollback()
    saudi = session.get(Market, "SA")
    assert saudi.retention_days == 365 and saudi.closes == time(16)
    assert saudi.version == 2 and saudi.edited_by.startswith("admin@example.test")
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "market.update",
                                                  AuditEntry.entity_id == "SA")).one()
    assert entry.after == {"closes": "16:00", "retention_days": 365}


def test_a_stale_form_is_a_409_and_changes_nothing(app, session, people, markets):
    client = _admin(app)
    token = csrf_token(client.get("/admin/markets/DE").text)
    germany = session.get(Market, "DE")
    first = client.post("/admin/markets/DE", data={"csrf_token": token,
                                                   **_form(germany, retention_days="100")})
    assert first.status_code == 303
    before = table_snapshot(app.extensions["service_portal.engine"])
    stale = client.post("/admin/markets/DE", data={"csrf_token": token,
                                                   **_form(germany, retention_days="200")})
    assert stale.status_code == 409
    assert table_snapshot(app.extensions["service_portal.engine"]) == before


@pytest.mark.parametrize("changes", [
    {"opens": "18:00"}, {"opens": "25:00"}, {"workdays": []}, {"time_zone": "Mars/Olympus"},
    {"currency": "XXQ"}, {"distance_unit": "ly"}, {"retention_days": "0"},
    {"retention_days": "abc"}, {"languages": []}, {"languages": ["zz-not-a-language"]},
    {"recall_url": "javascript:alert(1)"}, {"rmi_note": "x" * 4001},
])
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(app, session, people, markets,
                                                                 changes):
    client = _admin(app)
    token = csrf_token(client.get("/admin/markets/SA").text)
    before = table_snapshot(app.extensions["service_portal.engine"])
    response = client.post("/admin/markets/SA", data={
        "csrf_token": token, **_form(session.get(Market, "SA"), **changes)})
    assert response.status_code == 422
    assert 'class="flash error"' in response.text
    assert table_snapshot(app.extensions["service_portal.engine"]) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_admins_reach_the_market_pages(app, people, markets, method):
    staff = _admin(app, "staff@example.test")
    for path in ("/admin/markets", "/admin/markets/SA"):
        if method == "GET" or path != "/admin/markets":
            assert staff.open(path, method=method).status_code in (400, 403)
    assert app.test_client().get("/admin/markets").status_code in (302, 401)


def test_an_unknown_market_page_is_a_404(app, people, markets):
    client = _admin(app)
    assert client.get("/admin/markets/US").status_code == 404
    assert client.get("/admin/markets/XYZ").status_code == 404


def test_a_bad_row_in_the_markets_file_loads_nothing(session, app, tmp_path):
    from service_portal.tabular import ImportFailed

    lines = MARKETS_FILE.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("Europe/Vienna", "Europe/Atlantis")
    bad = tmp_path / "markets.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = table_snapshot(app.extensions["service_portal.engine"])
    with pytest.raises(ImportFailed) as failed:
        load_markets(session, Actor.command_line("test"), path=bad)
    session.rollback()
    assert [(e.row, e.column) for e in failed.value.errors] == [(3, "markets.csv: time_zone")]
    assert table_snapshot(app.extensions["service_portal.engine"]) == before


def test_a_load_that_changes_something_is_audited_once(session, markets):
    (entry,) = session.exec(select(AuditEntry).where(AuditEntry.action == "market.load")).all()
    assert entry.after["created"] == 26 and len(entry.after["countries"]) == 26


def test_the_reference_catalog_loads_the_markets(session):
    from service_portal.reference.load import load_reference

    report = load_reference(session, Actor.command_line("test"))
    session.commit()
    assert report["markets"]["created"] == 26
    assert session.get(Market, "SA").time_zone == "Asia/Riyadh"
