"""The vehicle page in a real browser on a phone-sized screen."""

import pytest

from tests.test_vehicle_pages import POLESTAR_2, bulletin

pytestmark = pytest.mark.browser


def test_vehicle_page_by_vin_fits_a_360px_screen(phone, live_server, make, session):
    polestar = make.brand("polestar", name="Polestar")
    make.model(polestar, "polestar-2", name="Polestar 2", year_from=2020)
    make.shop(name="Autohaus mit einem sehr langen Namen für Rückrufarbeiten GmbH & Co. KG",
              brands=[(polestar, "authorized")], services=[make.service("recall-work")],
              phone="+49691234567", address="Hanauer Landstraße 1234-1236")
    bulletin(session, "PS-R-2026-000001", years=(2021, 2023), texts={"en": {
        "title": "High-voltage battery coolant pump may stop working without any warning",
        "summary": "A" * 300, "body": "Replace the pump."}})
    response = phone.goto(f"{live_server}/vehicle?vin={POLESTAR_2}&near=50.11,8.68")
    assert response.status == 200
    assert "Polestar 2" in phone.inner_text("main")
    assert "Autohaus mit einem" in phone.inner_text("main")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
