"""Times on dealer and staff pages are in the reader's zone, with the zone shown: their own
choice (account settings), else their organisation's shops' zone, else UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine

from service_portal.users.models import User
from tests.helpers import csrf_token, sign_in

PASSWORD = "correct horse battery"
MOMENT = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)


def _token_page(client, lang: str) -> str:
    return client.get(f"/account/tokens?lang={lang}").text


def _dealer_with_token(make, email="dealer@rheinblick.example"):
    org = make.org("rheinblick-e-mobil")
    make.shop(org, timezone="Europe/Berlin")
    dealer = make.user("dealer", org, email=email, password=PASSWORD)
    with time_machine.travel(MOMENT, tick=False):
        make.token(dealer, name="Lager")
    return dealer


def test_times_default_to_the_organisations_shop_zone(app, make):
    _dealer_with_token(make)
    client = app.test_client()
    sign_in(client, "dealer@rheinblick.example", PASSWORD)
    assert "04.12.2026, 09:30 MEZ" in _token_page(client, "de")


def test_staff_without_an_organisation_read_utc_labelled(app, make):
    staff = make.user("staff", email="agent@portal.example", password=PASSWORD)
    with time_machine.travel(MOMENT, tick=False):
        make.token(staff)
    client = app.test_client()
    sign_in(client, staff.email, PASSWORD)
    assert "04.12.2026, 08:30 UTC" in _token_page(client, "de")


def test_a_chosen_zone_shows_times_there_with_its_abbreviation(app, make, session):
    dealer = _dealer_with_token(make)
    client = app.test_client()
    sign_in(client, dealer.email, PASSWORD)
    page = client.get("/account/settings")
    assert 'value="America/New_York"' in page.text
    saved = client.post("/account/settings", data={"csrf_token": csrf_token(page.text),
                                                   "time_zone": "America/New_York"})
    assert saved.status_code == 303
    # CLDR puts a narrow no-break space before "AM".
    assert re.search(r"Dec 4, 2026, 3:30\sAM EST", _token_page(client, "en"))
    session.rollback()
    session.expire_all()
    assert session.get(User, dealer.id).time_zone == "America/New_York"
    # Back to the default: the organisation's zone again.
    page = client.get("/account/settings")
    client.post("/account/settings", data={"csrf_token": csrf_token(page.text), "time_zone": ""})
    assert "04.12.2026, 09:30 MEZ" in _token_page(client, "de")


def test_an_unknown_zone_is_refused_and_nothing_is_stored(app, make, session):
    dealer = _dealer_with_token(make)
    client = app.test_client()
    sign_in(client, dealer.email, PASSWORD)
    page = client.get("/account/settings")
    refused = client.post("/account/settings", data={"csrf_token": csrf_token(page.text),
                                                     "time_zone": "Mars/Olympus_Mons"})
    assert refused.status_code == 422
    session.rollback()
    session.expire_all()
    assert session.get(User, dealer.id).time_zone is None


def test_the_opening_hours_preview_starts_at_whole_times_not_now(app, make):
    org = make.org("rheinblick-e-mobil")
    shop = make.shop(org, timezone="Europe/Berlin", opening_hours="Mo-Fr 08:00-18:00")
    make.user("dealer", org, email="dealer@rheinblick.example", password=PASSWORD)
    client = app.test_client()
    odd = (datetime.now(UTC) + timedelta(days=1)).replace(hour=10, minute=17, second=42)
    with time_machine.travel(odd, tick=False):
        sign_in(client, "dealer@rheinblick.example", PASSWORD)
        page = client.get(f"/dealer/shops/{shop.id}/profile?lang=de").text
    assert "08:00" in page and "18:00" in page
    assert "11:17" not in page and ":42" not in page
