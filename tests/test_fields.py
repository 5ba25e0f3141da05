"""Field checks shared by imports and forms: plain functions, no app needed but Babel's."""

from decimal import Decimal

import pytest

from service_portal import create_app, fields


@pytest.fixture(autouse=True)
def _app_context():
    with create_app({"DATABASE_URL": "sqlite://"}).app_context():
        yield


@pytest.mark.parametrize("raw, expected", [("0", 0), ("12", 12), (" 7 ", 7)])
def test_whole_number_accepts_plain_ascii_digits(raw, expected):
    assert fields.whole_number(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "1.5", "٣", "１２", "NaN", "inf", "1e3", "+4", "", "1_000"])
def test_whole_number_refuses_signs_decimals_and_unicode_digits(raw):
    with pytest.raises(ValueError):
        fields.whole_number(raw)


@pytest.mark.parametrize("raw, expected", [("12.5", Decimal("12.50")), ("12,50", Decimal("12.50")),
                                           ("0", Decimal("0")), ("1999", Decimal("1999"))])
def test_decimal_amount_accepts_point_or_comma(raw, expected):
    assert fields.decimal_amount(raw) == expected


@pytest.mark.parametrize("raw", ["-3", "1,234", "1.234.5", "NaN", "١٢", "12.345", "1e2"])
def test_decimal_amount_refuses_ambiguous_or_negative(raw):
    with pytest.raises(ValueError):
        fields.decimal_amount(raw)


def test_phone_is_normalised_to_e164_for_its_country():
    assert fields.phone_e164("069 1234567", "DE") == "+49691234567"
    assert fields.phone_e164("+966 11 234 5678", None) == "+966112345678"


def test_invalid_phone_is_refused():
    with pytest.raises(ValueError):
        fields.phone_e164("12345", "DE")


@pytest.mark.parametrize("raw, expected", [("de", "de"), ("pt-br", "pt-BR"), ("ZH", "zh"),
                                           ("zh-hans", "zh-Hans"), ("fil", "fil")])
def test_language_codes_are_normalised(raw, expected):
    assert fields.language(raw) == expected


@pytest.mark.parametrize("raw", ["xx", "english", "de-XX", "", "../etc"])
def test_unknown_language_codes_are_refused(raw):
    with pytest.raises(ValueError):
        fields.language(raw)


@pytest.mark.parametrize("raw", ["javascript:alert(1)", "ftp://x.example", "//x.example", "x"])
def test_only_http_links_are_accepted(raw):
    with pytest.raises(ValueError):
        fields.web_link(raw)


def test_country_and_currency_codes_are_checked_against_iso():
    assert fields.country("de") == "DE"
    assert fields.currency("eur") == "EUR"
    with pytest.raises(ValueError):
        fields.country("XX")
    with pytest.raises(ValueError):
        fields.currency("EUX")


@pytest.mark.parametrize("raw", ["91", "-90.5", "nan", "inf", "٥٠"])
def test_latitude_out_of_range_or_not_a_number_is_refused(raw):
    with pytest.raises(ValueError):
        fields.latitude(raw)
