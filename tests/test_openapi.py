"""The OpenAPI description holds for the live app: schemathesis generates valid and invalid
requests from it; no request may get a 500, a response outside the schema, or have an
invalid request accepted."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)
from sqlalchemy import text

from service_portal import create_app
from service_portal.audit.actors import Actor
from service_portal.db import make_engine, session_scope
from service_portal.models import metadata
from service_portal.reference.load import load_reference
from service_portal.security import limiter
from service_portal.seeding.load import load_seed
from service_portal.users.services import create_user, issue_token
from tests.conftest import PG_URL


def uncompressed(app):
    """The app as a WSGI callable that never compresses: schemathesis' WSGI transport does
    not decode compressed bodies (compression itself is tested in test_page_weight)."""
    def wsgi(environ, start_response):
        environ.pop("HTTP_ACCEPT_ENCODING", None)
        return app(environ, start_response)
    return wsgi

@pytest.fixture(scope="module")
def seeded_app(_schema_template, tmp_path_factory):
    """The demo data set, loaded once for this module (it only reads)."""
    if PG_URL:
        url = PG_URL
        engine = make_engine(url)
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
    else:
        path = tmp_path_factory.mktemp("openapi") / "portal.db"
        shutil.copyfile(_schema_template, path)
        url = f"sqlite:///{path}"
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SEARCH_RATE_LIMIT": "100000/minute",
                      "CASE_RATE_LIMIT": "100000/minute",
                      "CASE_LOOKUP_RATE_LIMIT": "100000/minute",
                      "TOKEN_FAILURE_LIMIT": "100000/minute"})
    with app.app_context():
        limiter.reset()
        with session_scope(app.extensions["service_portal.engine"]) as session:
            load_reference(session, Actor.command_line("test"))
            load_seed(session)
            create_user(session, email="staff@openapi.example", role="staff")
            app.config["TEST_STAFF_TOKEN"] = issue_token(
                session, email="staff@openapi.example", name="schemathesis",
                actor=Actor.command_line("test"))
    yield app
    app.extensions["service_portal.engine"].dispose()


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", uncompressed(app))
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
def test_api_conforms_to_its_openapi_description(seeded_app, mode):
    operations = _operations(seeded_app)
    assert len(operations) >= 6
    staff = {"Authorization": f"Bearer {seeded_app.config['TEST_STAFF_TOKEN']}"}
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True)
        def check(case):
            # Cross-parameter rules (near or lat+lon; authorization needs a brand) and
            # unknown names are beyond what OpenAPI can state, so a schema-valid request
            # may still get a 400 or 422: positive-data acceptance is not checked.
            # Writes are staff-only: send a staff token, so that bodies reach validation and
            # the service instead of all stopping at 401; but keep an Authorization header
            # that invalid data broke on purpose. Whether a route refuses a missing or bad
            # token is tested route by route elsewhere, so schemathesis' guess is not needed.
            headers = staff if case.operation.method.upper() in ("POST", "PUT", "PATCH") \
                or case.operation.path == "/api/v1/cases" else {}
            generated = case.headers or {}
            case.headers = ({**headers, **generated} if mode is GenerationMode.NEGATIVE
                            else {**generated, **headers})
            case.call_and_validate(additional_checks=[negative_data_rejection],
                                   excluded_checks=[positive_data_acceptance, ignored_auth])

        check()


# Tests here use `seeded_app`, never the `client` fixture: on PostgreSQL that would empty
# the database the module's seeded app shares.
def test_openapi_lists_every_public_route(seeded_app):
    paths = seeded_app.test_client().get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/shops", "/api/v1/shops/{id}", "/api/v1/places", "/api/v1/brands",
            "/api/v1/models", "/api/v1/services"} <= set(paths)


def test_staff_writes_conform_to_their_description(seeded_app):
    """Generated bodies name random brands (422); a real bulletin shows 201 and 200 too."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", uncompressed(seeded_app))
    headers = {"Authorization": f"Bearer {seeded_app.config['TEST_STAFF_TOKEN']}"}
    body = {"code": "OPENAPI-1", "kind": "tsb", "brand": "byd", "models": ["byd-seal"],
            "year_from": 2023, "year_to": None, "countries": ["de"], "severity": "low",
            "published": "2026-01-02", "texts": {"en": {"title": "t", "summary": "s",
                                                        "body": "b"}}}
    create = schema["/api/v1/bulletins"]["POST"].Case(body=body, headers=headers)
    response = create.call()
    assert response.status_code == 201
    create.validate_response(response)
    replace = schema["/api/v1/bulletins/{code}"]["PUT"].Case(
        path_parameters={"code": "OPENAPI-1"}, body=body | {"severity": "high"},
        headers=headers)
    response = replace.call()
    assert response.status_code == 200
    replace.validate_response(response)
    anonymous = schema["/api/v1/bulletins"]["POST"].Case(body=body)
    response = anonymous.call()
    assert response.status_code == 401
    anonymous.validate_response(response)


def test_write_operations_declare_the_bearer_scheme(seeded_app):
    spec = seeded_app.test_client().get("/api/v1/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, method in (("/api/v1/bulletins", "post"), ("/api/v1/bulletins/{code}", "put")):
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"401", "403", "415", "422"} <= set(operation["responses"])


def test_case_routes_conform_to_their_description(seeded_app):
    """A real case through its description: opened, read by staff and owner, changed."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", uncompressed(seeded_app))
    staff = {"Authorization": f"Bearer {seeded_app.config['TEST_STAFF_TOKEN']}"}
    request = {"name": "Open API", "email": "openapi@owner.example", "model": "byd-seal",
               "country": "DE", "service": "hv-battery", "consent": True,
               "description": "Checking the description against the app."}
    opened = schema["/api/v1/cases"]["POST"].Case(body=request)
    response = opened.call()
    assert response.status_code == 201
    opened.validate_response(response)
    reference = response.json()["reference"]
    path = {"reference": reference}
    for case in (schema["/api/v1/cases/{reference}"]["GET"].Case(path_parameters=path,
                                                                  headers=staff),
                 schema["/api/v1/cases/{reference}"]["GET"].Case(
                     path_parameters=path, query={"email": "openapi@owner.example"}),
                 schema["/api/v1/cases/{reference}"]["PATCH"].Case(
                     path_parameters=path, headers=staff,
                     body={"version": 1, "status": "triaged"}),
                 schema["/api/v1/cases"]["GET"].Case(headers=staff, query={"status": "triaged"})):
        response = case.call()
        assert response.status_code == 200, response.text
        case.validate_response(response)
    stale = schema["/api/v1/cases/{reference}"]["PATCH"].Case(
        path_parameters=path, headers=staff, body={"version": 1, "priority": "high"})
    response = stale.call()
    assert response.status_code == 409
    stale.validate_response(response)
