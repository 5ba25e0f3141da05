"""The search's in-memory index follows the database: every committed change to a shop,
its brands, services or languages shows in the very next search, from any writer (another
app host included); a change rolled back never shows."""

from __future__ import annotations

from sqlalchemy import text

from service_portal.db import make_engine, writer
from service_portal.shops.models import ShopBrand, ShopLanguage, ShopService

FRANKFURT = {"lat": "50.1109", "lon": "8.6821", "radius_km": "20"}


def found(client, **params) -> list[str]:
    body = client.get("/api/v1/shops", query_string=FRANKFURT | params).get_json()
    assert body["total"] == len(body["results"])
    return [r["name"] for r in body["results"]]


def test_new_changed_and_removed_shops_show_in_the_next_search(client, make, session):
    byd = make.brand("byd")
    hv = make.service("hv-battery")
    first = make.shop(name="First", lat=50.11, lon=8.68)
    assert found(client) == ["First"]  # the index is loaded here

    second = make.shop(name="Second", lat=50.12, lon=8.69, brands=[(byd, "partner")],
                       services=[hv], languages=["pt-BR"])
    assert found(client) == ["First", "Second"]
    assert found(client, brand="byd", authorization="partner") == ["Second"]
    assert found(client, service="hv-battery", language="pt") == ["Second"]

    # Links change: a brand's level, a service and a language added or removed.
    session.execute(text("UPDATE shop_brands SET level = 'independent' WHERE shop_id = :id"),
                    {"id": second.id})
    session.add(ShopBrand(shop_id=first.id, brand_id=byd.id, level="authorized"))
    session.add(ShopService(shop_id=first.id, service_id=hv.id))
    session.add(ShopLanguage(shop_id=first.id, language="ar"))
    session.execute(text("DELETE FROM shop_languages WHERE shop_id = :id"), {"id": second.id})
    session.commit()
    assert found(client, brand="byd", authorization="partner") == ["First"]
    assert found(client, service="hv-battery") == ["First", "Second"]
    assert found(client, language="ar") == ["First"]
    assert found(client, language="pt") == []

    # The shop's own columns: place, hours, HV level, activity.
    session.execute(text("UPDATE shops SET lat = 50.5, lon = 9.5 WHERE id = :id"),
                    {"id": first.id})
    session.execute(text("UPDATE shops SET opening_hours = '24/7', hv_level = '3S', "
                         "hv_valid_until = '2099-01-01' WHERE id = :id"), {"id": second.id})
    session.commit()
    assert found(client) == ["Second"]
    assert found(client, open_now="true", hv_level="3S") == ["Second"]
    session.execute(text("UPDATE shops SET active = false WHERE id = :id"), {"id": second.id})
    session.execute(text("UPDATE shops SET lat = 50.11, lon = 8.68 WHERE id = :id"),
                    {"id": first.id})
    session.commit()
    assert found(client) == ["First"]
    session.execute(text("UPDATE shops SET active = true WHERE id = :id"), {"id": second.id})
    session.commit()
    assert found(client) == ["First", "Second"]

    # Deleted, and an inactive shop never indexed made active.
    session.execute(text("DELETE FROM shops WHERE id = :id"), {"id": second.id})
    session.expunge(second)  # SQLite may hand its id to the next shop
    third = make.shop(name="Third", lat=50.11, lon=8.70, active=False)
    session.commit()
    assert found(client) == ["First"]
    session.execute(text("UPDATE shops SET active = true WHERE id = :id"), {"id": third.id})
    session.commit()
    assert found(client) == ["First", "Third"]


def test_documents_show_every_change_to_a_shop_and_its_organisation(client, make, session):
    shop = make.shop(name="Before", lat=50.11, lon=8.68, phone="+4969123456")
    before = client.get("/api/v1/shops", query_string=FRANKFURT).get_json()["results"][0]
    assert before["name"] == "Before" and before["phone"] == "+4969123456"
    session.execute(text("UPDATE shops SET name = 'After', phone = NULL WHERE id = :id"),
                    {"id": shop.id})
    session.execute(text("UPDATE organizations SET slug = 'renamed' WHERE id = :id"),
                    {"id": shop.organization_id})
    session.commit()
    after = client.get("/api/v1/shops", query_string=FRANKFURT).get_json()["results"][0]
    assert (after["name"], after["phone"], after["organization"]) == ("After", None,
                                                                      "renamed")


def error_code(client, **params) -> tuple[int, str | None]:
    response = client.get("/api/v1/shops", query_string=FRANKFURT | params)
    return response.status_code, (response.get_json().get("error") or {}).get("code")


def test_catalog_names_follow_every_change(client, make, session):
    """Brand, model and service names are resolved by the index: one created, renamed or
    deleted after it loaded is known, followed or refused in the very next search, and
    the documents show a renamed slug."""
    shop = make.shop(name="Shop", lat=50.11, lon=8.68)
    assert found(client) == ["Shop"]  # the index is loaded here
    assert error_code(client, brand="zeekr") == (422, "unknown_brand")

    zeekr = make.brand("zeekr")
    make.model(zeekr, "zeekr-x")
    hv = make.service("hv-battery")
    session.add(ShopBrand(shop_id=shop.id, brand_id=zeekr.id, level="partner"))
    session.add(ShopService(shop_id=shop.id, service_id=hv.id))
    session.commit()
    assert found(client, brand="zeekr") == ["Shop"]
    assert found(client, model="zeekr-x", service="hv-battery") == ["Shop"]

    session.execute(text("UPDATE brands SET slug = 'zeekr-auto' WHERE id = :id"),
                    {"id": zeekr.id})
    session.execute(text("UPDATE services SET slug = 'hv-pack' WHERE id = :id"),
                    {"id": hv.id})
    session.execute(text("UPDATE vehicle_models SET slug = 'zeekr-001' WHERE slug = "
                         "'zeekr-x'"))
    session.commit()
    assert error_code(client, brand="zeekr") == (422, "unknown_brand")
    assert error_code(client, model="zeekr-x") == (422, "unknown_model")
    assert error_code(client, service="hv-battery") == (422, "unknown_service")
    result = client.get("/api/v1/shops", query_string=FRANKFURT | {
        "model": "zeekr-001", "service": "hv-pack"}).get_json()["results"][0]
    assert result["brands"] == [{"brand": "zeekr-auto", "level": "partner", "verified": False}]
    assert result["services"] == ["hv-pack"]

    other = make.brand("xpeng")
    session.execute(text("UPDATE vehicle_models SET brand_id = :b"), {"b": other.id})
    session.commit()
    assert error_code(client, model="zeekr-001", brand="zeekr-auto") == (
        422, "model_brand_mismatch")
    session.execute(text("DELETE FROM vehicle_models"))
    session.execute(text("DELETE FROM shop_brands"))
    session.execute(text("DELETE FROM brands WHERE id = :id"), {"id": zeekr.id})
    session.commit()
    assert error_code(client, brand="zeekr-auto") == (422, "unknown_brand")
    assert found(client, brand="xpeng") == []


def test_a_write_by_another_host_shows_and_a_rolled_back_one_never(client, make,
                                                                      database_url):
    make.shop(name="Here", lat=50.11, lon=8.68)
    assert found(client) == ["Here"]
    other_host = make_engine(database_url)
    try:
        with writer(other_host).begin() as conn:
            conn.execute(text("UPDATE shops SET name = 'Here too', lat = 50.111"))
        assert found(client) == ["Here too"]

        with writer(other_host).connect() as conn:
            conn.execute(text("UPDATE shops SET lat = 10.0"))
            conn.execute(text("UPDATE shop_languages SET language = 'xx'"))
            assert found(client) == ["Here too"]  # not committed: not seen
            conn.rollback()
        assert found(client) == ["Here too"]
        with writer(other_host).begin() as conn:
            conn.execute(text("UPDATE shops SET opening_hours = NULL"))
        body = client.get("/api/v1/shops", query_string=FRANKFURT).get_json()
        assert body["results"][0]["open_now"] is False
        assert body["results"][0]["next_change"] is None
    finally:
        other_host.dispose()


def test_stock_changes_show_in_the_next_part_search(client, make, session, database_url):
    """A stock row that starts or stops counting as in stock (qty > 0), is deleted or
    moves to another shop changes the very next `part` search, from this app or another
    host; a rolled-back change never shows; a successor's stock counts for its part."""
    brand = make.brand("byd")
    part = make.part(brand, "P-1")
    a, b = make.shop(name="A", lat=50.11, lon=8.68), make.shop(name="B", lat=50.12, lon=8.69)
    c = make.shop(name="C", lat=50.13, lon=8.70)
    make.stock(a, part, qty=3)
    make.stock(b, part, qty=0)
    assert found(client, part="P-1") == ["A"]  # the part's holders are read here

    def stock(sql: str, **values) -> None:
        session.execute(text(sql), {"part": part.id, **values})
        session.commit()

    stock("UPDATE stock SET qty = 2 WHERE shop_id = :s AND part_id = :part", s=b.id)
    assert found(client, part="P-1") == ["A", "B"]
    stock("UPDATE stock SET qty = 1 WHERE shop_id = :s AND part_id = :part", s=a.id)
    assert found(client, part="P-1") == ["A", "B"]  # a sale leaving one
    stock("UPDATE stock SET qty = 0 WHERE shop_id = :s AND part_id = :part", s=a.id)
    assert found(client, part="P-1") == ["B"]
    stock("DELETE FROM stock WHERE shop_id = :s AND part_id = :part", s=b.id)
    assert found(client, part="P-1") == []
    make.stock(c, part, qty=4)
    assert found(client, part="P-1") == ["C"]
    stock("UPDATE stock SET shop_id = :s WHERE shop_id = :c AND part_id = :part", s=b.id,
          c=c.id)
    assert found(client, part="P-1") == ["B"]

    newer = make.part(brand, "P-2")
    session.execute(text("UPDATE parts SET superseded_by_id = :n WHERE id = :p"),
                    {"n": newer.id, "p": part.id})
    session.commit()
    assert found(client, part="P-2") == []  # P-2's holders are read here
    make.stock(a, newer, qty=1)
    assert found(client, part="P-1") == ["A", "B"]
    assert found(client, part="P-2") == ["A"]

    other_host = make_engine(database_url)
    try:
        with writer(other_host).begin() as conn:
            conn.execute(text("UPDATE stock SET qty = 0 WHERE shop_id = :s"), {"s": b.id})
        assert found(client, part="P-1") == ["A"]
        with writer(other_host).connect() as conn:
            conn.execute(text("UPDATE stock SET qty = 9"))
            assert found(client, part="P-1") == ["A"]  # not committed: not seen
            conn.rollback()
        assert found(client, part="P-1") == ["A"]
        with writer(other_host).begin() as conn:
            conn.execute(text("DELETE FROM shops WHERE id = :s"), {"s": a.id})
        assert found(client, part="P-1") == []
    finally:
        other_host.dispose()


def test_a_stock_import_shows_in_the_next_search(client, make, session, cli, tmp_path):
    """An import's stock shows in the next `part` search; a failed import changes
    nothing; a sale after it shows too."""
    brand = make.brand("byd")
    make.part(brand, "P-1")
    a = make.shop(name="A", lat=50.11, lon=8.68, external_id="shop-a")
    make.shop(name="B", lat=50.12, lon=8.69, external_id="shop-b")
    session.commit()
    assert found(client, part="P-1") == []  # the part's holders are read here
    data = tmp_path / "stock.csv"
    data.write_text("shop_external_id,part_number,qty,price,currency\n"
                    "shop-a,P-1,0,10.00,EUR\nshop-b,P-1,5,10.00,EUR\n")
    assert cli("import-stock", str(data)).exit_code == 0
    assert found(client, part="P-1") == ["B"]
    data.write_text("shop_external_id,part_number,qty,price,currency\n"
                    "shop-a,P-1,2,10.00,EUR\nshop-b,P-1,0,10.00,EUR\n")
    assert cli("import-stock", str(data)).exit_code == 0
    assert found(client, part="P-1") == ["A"]
    data.write_text("shop_external_id,part_number,qty,price,currency\n"
                    "shop-b,P-1,3,10.00,EUR\nshop-a,P-404,1,1.00,EUR\n")
    assert cli("import-stock", str(data)).exit_code != 0
    assert found(client, part="P-1") == ["A"]
    session.expire_all()
    assert session.execute(text("SELECT qty FROM stock WHERE shop_id = :a"),
                           {"a": a.id}).scalar() == 2
    # A sale to zero shows.
    session.execute(text("UPDATE stock SET qty = 0 WHERE shop_id = :a"), {"a": a.id})
    session.commit()
    assert found(client, part="P-1") == []


def test_traits_beyond_one_word_of_bits(client, make):
    """More brands, services and languages than one 63-bit word holds: each still finds
    exactly its shops, on the first load and after a change."""
    import pycountry

    codes = sorted(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
    make.shop(name="Many", lat=50.11, lon=8.68, languages=codes[:70])
    make.shop(name="One", lat=50.12, lon=8.69, languages=[codes[65]])
    assert found(client, language=codes[65]) == ["Many", "One"]
    assert found(client, language=codes[69]) == ["Many"]
    assert found(client, language=codes[0]) == ["Many"]
    make.shop(name="Later", lat=50.13, lon=8.70, languages=[codes[75], codes[0]])
    assert found(client, language=codes[75]) == ["Later"]
    assert found(client, language=codes[0]) == ["Many", "Later"]
    assert found(client, language=codes[70]) == []


def test_a_shop_committed_after_the_request_began_reading_never_breaks_its_page(
        app, make, database_url):
    """The index may be newer than a request's own view of the database (another request
    refreshed it meanwhile). A shop the request cannot read yet is left off its page, or
    shown whole where the database shows each statement the newest data: never a 500."""
    from werkzeug.datastructures import MultiDict

    from service_portal.db import get_session
    from service_portal.search import app_index, parse_search_args, search

    make.shop(name="Old", lat=50.11, lon=8.68)
    with app.test_request_context("/api/v1/shops"):
        session = get_session()
        session.execute(text("SELECT count(*) FROM shops")).scalar()  # its view begins
        other_host = make_engine(database_url)
        try:
            with writer(other_host).begin() as conn:
                conn.execute(text(
                    "INSERT INTO shops (external_id, organization_id, name, address, city, "
                    "postal_code, country, lat, lon, timezone, hv_level, active, version, "
                    "created_at, updated_at) SELECT 'late', organization_id, 'Late', '', '', "
                    "'', 'DE', 50.111, 8.681, 'Europe/Berlin', 'none', true, 1, created_at, "
                    "updated_at FROM shops"))
        finally:
            other_host.dispose()
        app_index(app).current()  # another request
        body = search(parse_search_args(MultiDict(FRANKFURT)))
    assert body["total"] == 2
    # SQLite keeps the request's snapshot; PostgreSQL shows each statement the newest.
    expected = ["Old"] if database_url.startswith("sqlite") else ["Late", "Old"]
    assert [r["name"] for r in body["results"]] == expected
