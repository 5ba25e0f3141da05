"""Coverage gaps: owners' searches counted anonymously per day, brand, service and cell,
with whether an authorised or partner shop was in range; batches that add up across
processes; counting that never fails a search; the staff page and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select, text

from service_portal.coverage import app_tally
from service_portal.coverage.cells import cell_bounds, cell_centre, cell_of, cell_place
from service_portal.coverage.models import CoverageDay
from service_portal.db import make_engine
from tests.helpers import sign_in

PASSWORD = "correct horse battery staple"
FRANKFURT = (50.1109, 8.6821)
KASSEL = (51.3127, 9.4797)  # 150 km from any shop of the world below
#: The place each cell is named by: the most populous place inside it (Kassel's centre
#: lies just east of the cell its station is in).
FRANKFURT_CELL, KASSEL_CELL = "Frankfurt am Main", "Baunatal"


@pytest.fixture
def world(make):
    byd, mg = make.brand("byd", name="BYD"), make.brand("mg", name="MG")
    make.model(byd, "byd-seal")
    hv = make.service("hv-battery")
    make.service("towing")
    make.shop(name="BYD Frankfurt", brands=[(byd, "authorized")], services=[hv],
              lat=50.11, lon=8.68)
    make.shop(name="Any Make Garage", brands=[(mg, "independent"), (byd, "independent")],
              services=[hv], lat=50.12, lon=8.69)
    make.user("staff", email="staff@portal.example", password=PASSWORD)
    make.user("admin", email="admin@portal.example", password=PASSWORD)
    make.user("dealer", make.org("dealer-org"), email="dealer@portal.example",
              password=PASSWORD)
    return {"byd": byd, "mg": mg}


def rows(session) -> dict[tuple, tuple]:
    session.rollback()
    return {(r.brand, r.service, r.cell): (r.country, r.searches, r.with_authorised_or_partner)
            for r in session.scalars(select(CoverageDay))}


def api_search(client, point, **params):
    response = client.get("/api/v1/shops", query_string={
        "lat": point[0], "lon": point[1], "radius_km": "25", **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_searches_are_counted_in_their_cell_with_whether_a_partner_was_found(
        app, client, world, session):
    api_search(client, FRANKFURT, brand="byd", service="hv-battery")  # authorised in range
    api_search(client, FRANKFURT, brand="byd", service="hv-battery")
    api_search(client, FRANKFURT, brand="mg")  # only an independent shop for MG
    api_search(client, KASSEL, brand="byd", service="hv-battery")  # nothing in range
    api_search(client, FRANKFURT, model="byd-seal", authorization="independent")
    client.get("/", query_string={"lat": KASSEL[0], "lon": KASSEL[1], "brand": "byd"})
    assert app_tally(app).flush_all() == 6
    frankfurt, kassel = cell_of(*FRANKFURT), cell_of(*KASSEL)
    assert frankfurt != kassel
    assert rows(session) == {
        ("byd", "hv-battery", frankfurt): ("DE", 2, 2),
        ("mg", "", frankfurt): ("DE", 1, 0),
        ("byd", "hv-battery", kassel): ("DE", 1, 0),
        ("byd", "", frankfurt): ("DE", 1, 1),
        ("byd", "", kassel): ("DE", 1, 0),
    }
    day = session.scalars(select(CoverageDay.day).distinct()).one()
    assert day == datetime.now(UTC).date()


def test_a_search_without_brand_counts_any_partner_and_far_ones_none(app, client, world,
                                                                      session):
    api_search(client, FRANKFURT)
    api_search(client, (50.15, 8.68), radius_km="2")  # the shops are 3.4 km away or more
    app_tally(app).flush_all()
    assert rows(session) == {("", "", cell_of(*FRANKFURT)): ("DE", 2, 1)}


def test_the_cell_holds_the_point_and_is_about_25_km(world):
    cell = cell_of(*FRANKFURT)
    south, west, north, east = cell_bounds(cell)
    assert south <= FRANKFURT[0] < north and west <= FRANKFURT[1] < east
    assert (north - south, east - west) == (0.25, 0.25)
    assert cell_of(*cell_centre(cell)) == cell
    assert cell_of(90.0, 180.0) == cell_of(89.9, 179.9)


def test_nothing_personal_is_stored(app, client, world, session):
    api_search(client, FRANKFURT, brand="byd")
    app_tally(app).flush_all()
    columns = {c["name"] for c in inspect(session.get_bind()).get_columns("coverage_daily")}
    assert columns == {"day", "brand", "service", "cell", "country", "searches",
                       "with_authorised_or_partner"}
    stored = session.execute(text("SELECT * FROM coverage_daily")).one()
    assert str(FRANKFURT[0]) not in repr(stored) and "127.0.0.1" not in repr(stored)


def test_counts_of_several_processes_add_up(make_app, world, session):
    first, second = make_app(), make_app()
    for app in (first, second):
        client = app.test_client()
        api_search(client, KASSEL, brand="byd")
        api_search(client, FRANKFURT, brand="byd")
        app_tally(app).flush_all()
    assert rows(session) == {("byd", "", cell_of(*KASSEL)): ("DE", 2, 0),
                             ("byd", "", cell_of(*FRANKFURT)): ("DE", 2, 2)}


def test_a_due_batch_is_written_after_the_response(make_app, world, session):
    app = make_app(COVERAGE_BATCH=2)
    client = app.test_client()
    api_search(client, FRANKFURT, brand="byd")
    assert rows(session) == {}
    response = client.get("/api/v1/shops", query_string={
        "lat": FRANKFURT[0], "lon": FRANKFURT[1], "brand": "byd"}, buffered=True)
    response.close()
    assert response.status_code == 200
    assert rows(session) == {("byd", "", cell_of(*FRANKFURT)): ("DE", 2, 2)}
    assert app_tally(app).waiting() == 0


def test_counting_failures_never_fail_a_search(make_app, world, session, database_url):
    app = make_app(COVERAGE_BATCH=1)
    client = app.test_client()
    engine = make_engine(database_url)
    with engine.begin() as connection:  # the table cannot be written: it is not there
        connection.execute(text("ALTER TABLE coverage_daily RENAME TO coverage_daily_away"))
    try:
        for _ in range(3):
            response = client.get("/api/v1/shops", query_string={
                "lat": FRANKFURT[0], "lon": FRANKFURT[1], "brand": "byd"}, buffered=True)
            response.close()
            assert response.status_code == 200 and response.get_json()["total"] == 2
        page = client.get("/", query_string={"lat": KASSEL[0], "lon": KASSEL[1]},
                          buffered=True)
        page.close()
        assert page.status_code == 200
        tally = app_tally(app)
        tally.flush_all()
        assert tally.dropped >= 4 and tally.written == 0
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE coverage_daily_away RENAME TO coverage_daily"))
        engine.dispose()


def test_a_broken_tally_never_fails_a_search(app, client, world, monkeypatch):
    def broken(**_kw):
        raise RuntimeError("counting broke")

    monkeypatch.setattr(app_tally(app), "add", broken)
    assert api_search(client, FRANKFURT, brand="byd")["total"] == 2


@pytest.mark.parametrize("email, status", [(None, 302), ("dealer@portal.example", 403),
                                           ("staff@portal.example", 200),
                                           ("admin@portal.example", 200)])
def test_only_staff_see_coverage(client, world, email, status):
    if email:
        sign_in(client, email, PASSWORD)
    assert client.get("/staff/coverage").status_code == status
    assert client.get("/staff/coverage.csv").status_code == status


def _counted(app, client):
    for _ in range(3):
        api_search(client, KASSEL, brand="byd")
    api_search(client, FRANKFURT, brand="byd")
    api_search(client, FRANKFURT, brand="mg")
    app_tally(app).flush_all()


def test_staff_page_ranks_unserved_cells_with_place_names(app, client, world):
    _counted(app, client)
    sign_in(client, "staff@portal.example", PASSWORD)
    page = client.get("/staff/coverage").text
    assert cell_place(cell_of(*KASSEL)).name == KASSEL_CELL
    assert cell_place(cell_of(*FRANKFURT)).name == FRANKFURT_CELL
    assert page.index(KASSEL_CELL) < page.index(FRANKFURT_CELL)
    assert "100%" in page and 'id="coverage-map"' in page and "coverage-data" in page
    only_mg = client.get("/staff/coverage", query_string={"brand": "mg"}).text
    assert FRANKFURT_CELL in only_mg and KASSEL_CELL not in only_mg
    assert KASSEL_CELL not in client.get("/staff/coverage", query_string={"country": "SA"}).text


@pytest.mark.parametrize("params, field", [({"brand": "tesla"}, "brand"),
                                           ({"country": "XX"}, "country")])
def test_staff_page_refuses_unknown_filters(client, world, params, field):
    sign_in(client, "staff@portal.example", PASSWORD)
    assert client.get("/staff/coverage", query_string=params).status_code == 400
    assert client.get("/staff/coverage.csv", query_string=params).status_code == 400


def test_csv_export_lists_cells_and_neutralises_formulas(app, client, world, session):
    _counted(app, client)
    session.execute(CoverageDay.__table__.insert().values(
        day=datetime.now(UTC).date(), brand="=HYPERLINK(1)", service="", cell=1,
        country="DE", searches=1, with_authorised_or_partner=0))
    session.commit()
    sign_in(client, "staff@portal.example", PASSWORD)
    response = client.get("/staff/coverage.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    by_place = {(r["brand"], r["place"]): r for r in table}
    kassel = by_place["byd", KASSEL_CELL]
    assert (kassel["country"], kassel["searches_30d"], kassel["unserved_30d"],
            kassel["searches_365d"]) == ("DE", "3", "3", "3")
    assert by_place["byd", FRANKFURT_CELL]["unserved_30d"] == "0"
    assert "'=HYPERLINK(1)" in {r["brand"] for r in table}
    mg_only = client.get("/staff/coverage.csv", query_string={"brand": "mg"}).data
    assert KASSEL_CELL.encode() not in mg_only and FRANKFURT_CELL.encode() in mg_only
