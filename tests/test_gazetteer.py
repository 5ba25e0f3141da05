"""The offline gazetteer: finding, completing and suggesting places in any script."""

from __future__ import annotations

import pytest

from service_portal.geo.gazetteer import Gazetteer, Place, get_gazetteer, normalise

HOSTILE = [
    "\x00", "\x00Paris\x1b[2J", "\t\n\r", "\ud800", "Par\udfffis", "\udc80" * 50,
    "x" * 10_000, "é" * 10_000, "\u0301" * 300, "\u202e\u200d\ufeff", "\U0010ffff",
    "💩🏙️", "%s%n{0}", "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd",
]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return get_gazetteer()


def city(geonameid: int, name: str, country: str, population: int,
         alternatenames: list[str] | None = None) -> dict:
    return {"geonameid": geonameid, "name": name, "countrycode": country, "latitude": 1.0,
            "longitude": 2.0, "population": population, "timezone": "UTC",
            "alternatenames": alternatenames or []}


def labels(places: list[Place]) -> list[str]:
    return [place.label for place in places]


@pytest.mark.parametrize("query", ["München", "Muenchen", "MUNICH", "munchen", "ميونخ"])
def test_lookup_finds_munich_in_any_spelling_or_script(gazetteer, query):
    assert gazetteer.lookup(query).label == "Munich, DE"


def test_lookup_finds_mexico_city_by_its_spanish_name_in_capitals(gazetteer):
    assert gazetteer.lookup("CIUDAD DE MEXICO").label == "Mexico City, MX"


def test_lookup_finds_singapore_by_its_chinese_name(gazetteer):
    assert gazetteer.lookup("新加坡").label == "Singapore, SG"


def test_lookup_matches_a_name_typed_without_its_accents(gazetteer):
    assert gazetteer.lookup("Sao Paulo").label == "São Paulo, BR"


def test_lookup_prefers_the_most_populous_place_of_that_name(gazetteer):
    assert gazetteer.lookup("Paris").label == "Paris, FR"


@pytest.mark.parametrize("country", ["US", "us", " US "])
def test_lookup_restricted_to_a_country_finds_the_place_there(gazetteer, country):
    place = gazetteer.lookup("Paris", country=country)
    assert (place.name, place.country) == ("Paris", "US")


def test_lookup_of_frankfurt_means_frankfurt_am_main(gazetteer):
    assert gazetteer.lookup("Frankfurt").label == "Frankfurt am Main, DE"


def test_lookup_ignores_punctuation_and_spacing(gazetteer):
    assert gazetteer.lookup("  frankfurt -- (ODER) ").label == "Frankfurt (Oder), DE"


def test_lookup_of_a_name_unknown_in_that_country_is_none(gazetteer):
    assert gazetteer.lookup("Munich", country="FR") is None


def test_lookup_of_an_unknown_name_is_none(gazetteer):
    assert gazetteer.lookup("Qwzxyplonk") is None


def test_place_carries_what_a_search_needs(gazetteer):
    place = gazetteer.lookup("Frankfurt am Main")
    assert place.country == "DE"
    assert place.timezone == "Europe/Berlin"
    assert place.lat == pytest.approx(50.11, abs=0.01)
    assert place.lon == pytest.approx(8.68, abs=0.01)
    assert place.population > 500_000


def test_complete_offers_frankfurt_am_main_first_for_frank(gazetteer):
    assert gazetteer.complete("frank")[0].label == "Frankfurt am Main, DE"


def test_complete_offers_munich_first_for_mun_with_umlaut(gazetteer):
    assert gazetteer.complete("mün")[0].label == "Munich, DE"


def test_complete_works_in_another_script(gazetteer):
    assert gazetteer.complete("ミュンヘ")[0].label == "Munich, DE"


def test_complete_lists_each_place_once(gazetteer):
    ids = [place.geonameid for place in gazetteer.complete("san", limit=50)]
    assert len(ids) == 50
    assert len(set(ids)) == 50


def test_complete_respects_the_limit(gazetteer):
    assert len(gazetteer.complete("a", limit=3)) == 3


def test_complete_restricted_to_a_country_only_offers_places_there(gazetteer):
    places = gazetteer.complete("s", country="DE", limit=20)
    assert len(places) == 20
    assert {place.country for place in places} == {"DE"}


def test_complete_lists_main_names_before_alternate_names_then_by_population():
    gazetteer = Gazetteer({
        "1": city(1, "Bigtown", "AA", 5_000_000, ["Frankton"]),
        "2": city(2, "Frankville", "AA", 10_000),
        "3": city(3, "Frankburg", "BB", 90_000),
    })
    assert labels(gazetteer.complete("Frank")) == [
        "Frankburg, BB", "Frankville, AA", "Bigtown, AA"]


def test_small_gazetteer_ranks_lookups_by_population():
    gazetteer = Gazetteer({
        "1": city(1, "Springfield", "US", 160_000),
        "2": city(2, "Springfield", "US", 110_000, ["Spring Field"]),
    })
    assert gazetteer.lookup("springfield").geonameid == 1
    assert gazetteer.lookup("spring-field").geonameid == 2


def test_suggest_offers_frankfurt_am_main_for_frnakfurt(gazetteer):
    assert gazetteer.suggest("Frnakfurt")[0].label == "Frankfurt am Main, DE"


def test_suggest_lists_each_place_once(gazetteer):
    ids = [place.geonameid for place in gazetteer.suggest("Frnakfurt", limit=20)]
    assert len(ids) == len(set(ids))


def test_suggest_restricted_to_a_country_only_offers_places_there(gazetteer):
    places = gazetteer.suggest("Frnakfort", country="US")
    assert places
    assert {place.country for place in places} == {"US"}


def test_suggest_for_gibberish_is_empty(gazetteer):
    assert gazetteer.suggest("Qwzxyplonkfrab") == []


@pytest.mark.parametrize("query", ["", " ", "\t\n", "---", "  ...  "])
def test_blank_queries_find_nothing(gazetteer, query):
    assert gazetteer.lookup(query) is None
    assert gazetteer.complete(query) == []
    assert gazetteer.suggest(query) == []


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_input_is_answered_without_raising(gazetteer, query):
    place = gazetteer.lookup(query)
    assert place is None or isinstance(place, Place)
    assert all(isinstance(place, Place) for place in gazetteer.complete(query))
    assert all(isinstance(place, Place) for place in gazetteer.suggest(query))


def test_control_characters_are_ignored_in_a_name(gazetteer):
    assert gazetteer.lookup("\x00Par\x1bis\u200d").label == "Paris, FR"


def test_overlong_queries_find_nothing(gazetteer):
    assert gazetteer.lookup("Paris" * 2_000) is None
    assert gazetteer.complete("Paris" * 2_000) == []
    assert gazetteer.suggest("Paris" * 2_000) == []


def test_normalise_erases_case_accents_punctuation_and_spacing():
    assert normalise("  Ünïcödé--Straße  (Süd)\t") == "unicode strasse sud"


def test_normalise_folds_letters_without_decomposition():
    assert normalise("København Łódź") == "kobenhavn lodz"


def test_the_full_gazetteer_is_loaded_once_per_process():
    assert get_gazetteer() is get_gazetteer()
