"""The app core: errors as CONTRACT section 9 says, security headers, one transaction per
request, and SQLite settings that let concurrent writers queue instead of failing."""

from __future__ import annotations

import threading

import pytest
from flask import Blueprint
from sqlalchemy import func, select, text

from service_portal.config import is_strong_secret, settings_from_env
from service_portal.db import get_session
from service_portal.security import csrf
from service_portal.shops.models import Organization


def test_unknown_api_route_answers_json_error(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "message": "Nothing was found here.",
                                       "field": None, "details": []}}


def test_unknown_page_answers_an_html_page(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"not_found" in response.data


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PROPFIND"])
def test_unsupported_methods_answer_405(client, method):
    response = client.open("/", method=method)
    assert response.status_code == 405


def test_error_messages_follow_the_request_language(client):
    response = client.get("/api/v1/nothing-here", headers={"Accept-Language": "de"})
    assert response.json["error"]["code"] == "not_found"
    assert response.json["error"]["message"] == "Hier wurde nichts gefunden."


def test_security_headers_on_every_response(client):
    for path in ("/", "/nothing-here", "/healthz"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
            assert directive in csp
        assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in headers


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" in client.get("/", base_url="https://localhost").headers


def test_hostile_language_choice_falls_back_quietly(client):
    response = client.get("/?lang=../../../etc/passwd%00")
    assert response.status_code == 200
    assert b'<html lang="en" dir="ltr">' in response.data
    assert b"etc/passwd" not in response.data


def test_arabic_pages_are_right_to_left(client):
    assert b'<html lang="ar" dir="rtl">' in client.get("/?lang=ar").data


def test_home_page_counts_what_is_stored(client, make):
    make.shop(country="DE")
    make.shop(country="NO", lat=59.91, lon=10.75, timezone="Europe/Oslo")
    page = client.get("/").get_data(as_text=True)
    assert "<li>2 shops</li>" in page and "<li>0 brands</li>" in page
    assert "<li>2 countries</li>" in page


def _failing_app(make_app):
    app = make_app()
    bp = Blueprint("t", __name__)

    @bp.post("/api/v1/_test/write-then-fail")
    def write_then_fail():
        get_session().add(Organization(slug="half-written", name="x"))
        get_session().flush()
        raise RuntimeError("boom")

    @bp.post("/api/v1/_test/write")
    def write():
        get_session().add(Organization(slug="written", name="x"))
        return {"ok": True}

    csrf.exempt(bp)  # like every /api/ blueprint of the portal
    app.register_blueprint(bp)
    return app


def test_a_failing_request_stores_nothing_and_answers_json_500(make_app, session):
    app = _failing_app(make_app)
    response = app.test_client().post("/api/v1/_test/write-then-fail")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "boom" not in response.get_data(as_text=True)
    assert session.scalar(select(func.count(Organization.id))) == 0


def test_a_successful_request_commits_once_at_the_edge(make_app, session):
    app = _failing_app(make_app)
    assert app.test_client().post("/api/v1/_test/write").status_code == 200
    assert session.scalars(select(Organization.slug)).all() == ["written"]


def test_engine_uses_the_settings_of_its_database(app, database_url):
    engine = app.extensions["service_portal.engine"]
    with engine.connect() as conn:
        if database_url.startswith("sqlite"):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        else:
            assert engine.dialect.driver == "psycopg"
            assert conn.exec_driver_sql("SHOW server_version").scalar()


def test_concurrent_writers_queue_instead_of_failing(app, make):
    """Each thread reads then writes in one transaction; with deferred BEGIN on SQLite one
    of them would fail at once with 'database is locked'."""
    org = make.org()
    engine = app.extensions["service_portal.engine"]
    from service_portal.db import session_scope

    errors: list[Exception] = []

    def bump() -> None:
        try:
            for _ in range(20):
                with session_scope(engine) as s:
                    s.execute(select(Organization.name).where(Organization.id == org.id)).one()
                    s.execute(text("UPDATE organizations SET country = 'NO' WHERE id = :id"),
                              {"id": org.id})
        except Exception as exc:  # pragma: no cover - what the test is looking for
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not [t for t in threads if t.is_alive()], "a writer is still waiting after 60 s"
    assert errors == []


def test_settings_come_from_the_environment():
    env = {"DATABASE_URL": "sqlite:///x.db", "MAX_UPLOAD_MB": "3", "DEFAULT_LOCALE": "de",
           "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"}
    assert settings_from_env(env) == env | {"MAX_UPLOAD_MB": 3}
    with pytest.raises(ValueError):
        settings_from_env({"MAX_UPLOAD_MB": "lots"})


def test_uploads_over_the_limit_answer_413(make_app, make):
    org = make.org()
    shop = make.shop(org)
    token = make.token(make.user("dealer", org))
    app = make_app(MAX_UPLOAD_MB=1)
    # The body is given as bytes: a file this size would be spooled by the test client to
    # a temporary file that it never closes.
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="stock.csv"\r\n\r\n'
            + b"x" * (1024 * 1024 + 10) + b"\r\n--b--\r\n")
    response = app.test_client().post(
        f"/api/v1/dealer/shops/{shop.id}/stock/import", data=body,
        content_type="multipart/form-data; boundary=b",
        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"


@pytest.mark.parametrize("secret, strong", [(None, False), ("short", False), ("x" * 40, False),
                                            ("changeme" * 5, False),
                                            ("Zq8-3kLp0_vW7xYb2nM4cR6tA9sD1fGh", True)])
def test_secret_key_strength(secret, strong):
    assert is_strong_secret(secret) is strong
