"""Settings from the environment (CONTRACT section 2), read in one place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .cases.workflow import DEFAULT_SLA_HOURS, parse_sla_hours

SUPPORTED_LOCALES = ("en", "zh_Hans", "de", "fr", "es", "it", "nl", "nb", "pt_BR", "ar", "th", "id")
OSM_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_TILE_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                        "OpenStreetMap</a> contributors")
MIN_SECRET_KEY_LENGTH = 32
#: Accounts (whole numbers; README "Settings"): session limits, progressive sign-in
#: delays (`users.throttle`) and the argon2id parameters (argon2-cffi's recommended ones).
ACCOUNT_SETTINGS = {
    "STAFF_SESSION_IDLE_MINUTES": 30,
    "SESSION_IDLE_MINUTES": 480,
    "SESSION_LIFETIME_HOURS": 12,
    "LOGIN_FREE_FAILURES": 5,
    "LOGIN_MAX_DELAY_SECONDS": 300,
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_KIB": 65536,
    "ARGON2_PARALLELISM": 4,
}
#: The worker (whole numbers, seconds): how long a claim on a notification lasts, the first
#: wait before a temporary failure is retried (doubling after each), and the attempts
#: before a notification counts as failed.
MAIL_SETTINGS = {
    "MAIL_CLAIM_SECONDS": 60,
    "MAIL_RETRY_SECONDS": 30,
    "MAIL_MAX_ATTEMPTS": 8,
}


def default_database_url(instance_path: str | Path) -> str:
    """The embedded default: an SQLite file in the app's instance folder."""
    return f"sqlite:///{Path(instance_path) / 'portal.db'}"


def settings_from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> dict[str, Any]:
    """Map the documented environment variables onto Flask config keys.

    Only variables that are set are returned, so defaults live in `create_app`.
    """
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    if env.get("DATABASE_URL"):
        out["DATABASE_URL"] = env["DATABASE_URL"]
    if env.get("SECRET_KEY"):
        out["SECRET_KEY"] = env["SECRET_KEY"]
    for name in ("RATELIMIT_STORAGE_URI", "GEOCODER", "GEOCODER_USER_AGENT", "MAP_TILE_URL",
                 "MAP_TILE_ATTRIBUTION", "DEFAULT_LOCALE", "SEARCH_RATE_LIMIT", "LOGIN_RATE_LIMIT",
                 "TOKEN_FAILURE_LIMIT", "CASE_RATE_LIMIT", "CASE_LOOKUP_RATE_LIMIT",
                 "ALERT_RATE_LIMIT", "ALERT_CLIENT_RATE_LIMIT",
                 "SMTP_URL", "MAIL_FROM", "PUBLIC_BASE_URL", "PASSWORD_RESET_RATE_LIMIT",
                 "STORAGE_URL"):
        if env.get(name):
            out[name] = env[name]
    if env.get("TRUSTED_HOSTS"):
        out["TRUSTED_HOSTS"] = [h.strip() for h in env["TRUSTED_HOSTS"].split(",") if h.strip()]
    if env.get("CASE_SLA_HOURS"):
        out["CASE_SLA_HOURS"] = parse_sla_hours(env["CASE_SLA_HOURS"])
    if env.get("MAX_UPLOAD_MB"):
        out["MAX_UPLOAD_MB"] = _positive_int("MAX_UPLOAD_MB", env["MAX_UPLOAD_MB"])
    if env.get("IMPORT_PARSE_SECONDS"):
        out["IMPORT_PARSE_SECONDS"] = _positive_int("IMPORT_PARSE_SECONDS",
                                                    env["IMPORT_PARSE_SECONDS"])
    if env.get("LOCK_TIMEOUT_MS"):
        out["LOCK_TIMEOUT_MS"] = _positive_int("LOCK_TIMEOUT_MS", env["LOCK_TIMEOUT_MS"])
    for name in (*ACCOUNT_SETTINGS, *MAIL_SETTINGS):
        if env.get(name):
            out[name] = _positive_int(name, env[name])
    if env.get("REQUEST_HEAD_TIMEOUT_S"):
        out["REQUEST_HEAD_TIMEOUT_S"] = _positive_int("REQUEST_HEAD_TIMEOUT_S",
                                                      env["REQUEST_HEAD_TIMEOUT_S"])
    if env.get("STATEMENT_TIMEOUT_MS"):
        out["STATEMENT_TIMEOUT_MS"] = _positive_int("STATEMENT_TIMEOUT_MS",
                                                    env["STATEMENT_TIMEOUT_MS"])
    return out


def defaults() -> dict[str, Any]:
    """Every setting with its documented default (DATABASE_URL is filled in by create_app)."""
    return {
        "DATABASE_URL": None,
        "SECRET_KEY": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "GEOCODER": "offline",
        "GEOCODER_USER_AGENT": None,
        "MAP_TILE_URL": OSM_TILE_URL,
        "MAP_TILE_ATTRIBUTION": OSM_TILE_ATTRIBUTION,
        "DEFAULT_LOCALE": "en",
        "MAX_UPLOAD_MB": 10,
        # Wall time an uploaded stock file may take to be read and checked (web and API;
        # the command line has none): a slower file gets a 422 before a worker's timeout.
        "IMPORT_PARSE_SECONDS": 20,
        "LOCAL_DEMO": False,
        # The host names the portal answers to, comma-separated (".example.org" admits its
        # subdomains); a request naming another `Host` gets a 400. Unset (None): any host,
        # as the local demo needs. Either way no answer repeats the `Host` header in a
        # redirect: every `Location` is a path on this site. Set it in production (with
        # the name a load balancer's health check sends), so that pages with absolute
        # links (the shop's schema.org `url`) carry a real name.
        "TRUSTED_HOSTS": None,
        "LOCK_TIMEOUT_MS": 5000,
        # PostgreSQL, web requests: a statement running longer ends in a 503. Commands
        # (imports, seeding, migrations) run without it.
        "STATEMENT_TIMEOUT_MS": 20000,
        # `serve`: seconds a client has to send a request's line and headers.
        "REQUEST_HEAD_TIMEOUT_S": 10,
        "SQL_ECHO": False,
        "SEARCH_RATE_LIMIT": "120 per minute",
        "TOKEN_FAILURE_LIMIT": "20 per 10 minutes",
        "LOGIN_RATE_LIMIT": "10 per 10 minutes",
        "CASE_RATE_LIMIT": "5 per hour;20 per day",
        "CASE_LOOKUP_RATE_LIMIT": "30 per hour",
        "PASSWORD_RESET_RATE_LIMIT": "5 per hour",
        # Recall alert subscriptions: per address written to, and per client.
        "ALERT_RATE_LIMIT": "5 per hour",
        "ALERT_CLIENT_RATE_LIMIT": "30 per hour",
        "CASE_SLA_HOURS": dict(DEFAULT_SLA_HOURS),
        # Email (CONTRACT section 11): no SMTP_URL means `.eml` files in instance/mail/.
        "SMTP_URL": None,
        "MAIL_FROM": "Service Portal <no-reply@localhost>",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        # Uploaded credential evidence (CONTRACT section 12): none means the folder
        # `evidence/` in the instance folder; `s3://bucket/prefix` an S3-compatible store.
        "STORAGE_URL": None,
        **ACCOUNT_SETTINGS,
        **MAIL_SETTINGS,
    }


def is_strong_secret(value: str | None) -> bool:
    """A session-signing key must be long and not one of the usual placeholders."""
    if not value or len(value) < MIN_SECRET_KEY_LENGTH:
        return False
    weak = {"changeme", "secret", "dev", "development", "password"}
    return value.lower().strip("-_ ") not in weak and len(set(value)) >= 10


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive")
    return value
