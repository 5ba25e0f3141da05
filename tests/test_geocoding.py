"""Resolving "near": typed coordinates, the offline gazetteer, and a real HTTP Nominatim."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from service_portal.geo.geocoding import (
    GeocoderUnavailable,
    Location,
    UnknownPlace,
    parse_lat_lon,
    resolve,
)

FRANKFURT = {
    "place_id": 132862035, "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
    "osm_type": "relation", "osm_id": 62400, "lat": "50.1106444", "lon": "8.6820917",
    "class": "boundary", "type": "administrative", "place_rank": 12, "importance": 0.78,
    "addresstype": "city", "name": "Frankfurt am Main",
    "display_name": "Frankfurt am Main, Hesse, Germany",
    "address": {"city": "Frankfurt am Main", "state": "Hesse", "country": "Germany",
                "country_code": "de"},
    "boundingbox": ["50.0153529", "50.2271424", "8.4727605", "8.8004049"],
}


class FakeNominatim:
    """A Nominatim /search endpoint on 127.0.0.1 that records what it was asked."""

    def __init__(self) -> None:
        self.places: dict[str, list[dict]] = {}
        self.delay = 0.0
        self.status = 200
        self.requests: list[dict[str, list[str]]] = []
        self.released = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = parse_qs(url.query)
                fake.requests.append(params)
                if fake.delay:
                    fake.released.wait(fake.delay)
                found = fake.places.get(params.get("q", [""])[0], [])
                body = json.dumps(found if url.path == "/search" else []).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # so server_close() joins every handler thread

            def handle_error(self, request, client_address) -> None:
                # The slow answer is written after the client has hung up.
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.domain = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)

    def resolve(self, near: str, **kwargs) -> Location:
        kwargs.setdefault("timeout", 2.0)
        return resolve(near, geocoder="nominatim", user_agent="service-portal-tests",
                       nominatim_domain=self.domain, nominatim_scheme="http", **kwargs)


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    fake = FakeNominatim()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.released.set()
        fake.server.shutdown()
        fake.server.server_close()
        fake.thread.join()


@pytest.mark.parametrize(("text", "expected"), [
    ("50.11,8.68", (50.11, 8.68)),
    ("50.11, 8.68", (50.11, 8.68)),
    (" -33.87 , 151.21 ", (-33.87, 151.21)),
    ("+1,-2", (1.0, -2.0)),
    ("90,180", (90.0, 180.0)),
    ("-90,-180", (-90.0, -180.0)),
])
def test_parse_lat_lon_reads_degrees_separated_by_a_comma(text, expected):
    assert parse_lat_lon(text) == expected


@pytest.mark.parametrize("text", ["90.0001,0", "-91,0", "0,180.5", "0,-181", "1000,1000"])
def test_parse_lat_lon_refuses_points_off_the_globe(text):
    assert parse_lat_lon(text) is None


@pytest.mark.parametrize("text", ["nan,0", "0,NaN", "inf,0", "0,-infinity", "1e999,0",
                                  "9" * 400 + ",0", "0," + "1" * 5000])
def test_parse_lat_lon_refuses_nan_and_infinity(text):
    assert parse_lat_lon(text) is None


@pytest.mark.parametrize("text", ["٥٠,٨", "५०,८", "５０,８", "50,８", "50\u00a0,8"])
def test_parse_lat_lon_refuses_digits_and_spaces_outside_ascii(text):
    assert parse_lat_lon(text) is None


@pytest.mark.parametrize("text", ["50,8,1", "50", "50,", ",8", "50 8", "50;8", "50.1.1,8",
                                  "1e1,2", "0x10,2", "50,8 Frankfurt", ""])
def test_parse_lat_lon_refuses_extra_or_missing_parts(text):
    assert parse_lat_lon(text) is None


def test_resolve_returns_typed_coordinates_without_a_label():
    assert resolve("50.11, 8.68") == Location(50.11, 8.68, None)


def test_resolve_offline_finds_a_place_and_labels_it():
    location = resolve("München")
    assert location.label == "Munich, DE"
    assert location.lat == pytest.approx(48.14, abs=0.01)
    assert location.lon == pytest.approx(11.58, abs=0.01)


def test_resolve_offline_restricted_to_a_country_finds_the_place_there():
    assert resolve("Paris", country="US").label == "Paris, US"


def test_resolve_offline_unknown_place_suggests_close_matches():
    with pytest.raises(UnknownPlace) as raised:
        resolve("Frnakfurt")
    assert raised.value.query == "Frnakfurt"
    assert raised.value.suggestions[0].label == "Frankfurt am Main, DE"


def test_resolve_offline_blank_query_is_an_unknown_place():
    with pytest.raises(UnknownPlace):
        resolve("   ")


@pytest.mark.parametrize("near", ["\x00", "\udc80" * 50, "x" * 10_000, "1" * 5000 + ",1"])
def test_resolve_offline_hostile_input_is_an_unknown_place(near):
    with pytest.raises(UnknownPlace):
        resolve(near)


def test_resolve_refuses_an_unknown_geocoder():
    with pytest.raises(ValueError, match="geocoder"):
        resolve("Paris", geocoder="google")


def test_resolve_with_nominatim_requires_a_user_agent():
    with pytest.raises(ValueError, match="user agent"):
        resolve("Paris", geocoder="nominatim")


def test_nominatim_hit_gives_the_location_labelled_like_the_gazetteer(nominatim):
    nominatim.places["Frankfurt"] = [FRANKFURT]
    assert nominatim.resolve("Frankfurt") == Location(
        50.1106444, 8.6820917, "Frankfurt am Main, DE")


def test_nominatim_is_asked_in_english_within_the_country(nominatim):
    nominatim.places["Frankfurt"] = [FRANKFURT]
    nominatim.resolve("Frankfurt", country="DE")
    [params] = nominatim.requests
    assert params["countrycodes"] == ["de"]
    assert params["accept-language"] == ["en"]


def test_nominatim_miss_is_an_unknown_place_without_suggestions(nominatim):
    with pytest.raises(UnknownPlace) as raised:
        nominatim.resolve("Qwzxyplonk")
    assert raised.value.suggestions == []


def test_nominatim_slower_than_the_timeout_is_unavailable(nominatim):
    nominatim.delay = 5.0
    with pytest.raises(GeocoderUnavailable):
        nominatim.resolve("Frankfurt", timeout=0.2)


def test_nominatim_server_error_is_unavailable(nominatim):
    nominatim.status = 503
    with pytest.raises(GeocoderUnavailable):
        nominatim.resolve("Frankfurt")


def test_nominatim_nonsense_answer_is_unavailable(nominatim):
    nominatim.places["Frankfurt"] = [{**FRANKFURT, "lat": "north-ish"}]
    with pytest.raises(GeocoderUnavailable):
        nominatim.resolve("Frankfurt")


def test_nominatim_nobody_listening_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GeocoderUnavailable):
        resolve("Frankfurt", geocoder="nominatim", user_agent="service-portal-tests",
                nominatim_domain=f"127.0.0.1:{port}", nominatim_scheme="http")


def test_nominatim_repeated_query_is_served_from_the_cache(nominatim):
    nominatim.places["Frankfurt"] = [FRANKFURT]
    first = nominatim.resolve("Frankfurt")
    second = nominatim.resolve("Frankfurt")
    assert first == second
    assert len(nominatim.requests) == 1


def test_nominatim_repeated_miss_is_served_from_the_cache(nominatim):
    for _ in range(2):
        with pytest.raises(UnknownPlace):
            nominatim.resolve("Qwzxyplonk")
    assert len(nominatim.requests) == 1


def test_nominatim_failure_is_not_cached(nominatim):
    nominatim.status = 503
    with pytest.raises(GeocoderUnavailable):
        nominatim.resolve("Frankfurt")
    nominatim.status = 200
    nominatim.places["Frankfurt"] = [FRANKFURT]
    assert nominatim.resolve("Frankfurt").label == "Frankfurt am Main, DE"


@pytest.mark.parametrize("near", ["Par\udfffis", "x" * 10_000, " \t "])
def test_nominatim_is_not_asked_about_impossible_names(nominatim, near):
    with pytest.raises(UnknownPlace):
        nominatim.resolve(near)
    assert nominatim.requests == []
