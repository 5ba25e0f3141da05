"""Fixtures: a real database per test (an SQLite file, or PostgreSQL when
PORTAL_TEST_DATABASE_URL is set), the app, an HTTP client, a CLI runner and factories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import Session

from service_portal import create_app
from service_portal.catalogs import compile_catalogs
from service_portal.db import make_engine
from service_portal.migrate import upgrade_to_head
from service_portal.models import metadata
from service_portal.security import limiter

PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
#: Passwords are hashed cheaply in tests (as warehouse's factories do); a test that times
#: sign-ins sets costlier parameters of its own.
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "ARGON2_PARALLELISM": 1}


@pytest.fixture(scope="session")
def _schema_template(tmp_path_factory) -> str:
    """Migrate once per run: an SQLite file to copy per test, or the PostgreSQL database."""
    compile_catalogs()
    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade_to_head(engine)
        engine.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return str(path)


@pytest.fixture
def database_url(_schema_template, tmp_path) -> Iterator[str]:
    """A clean, migrated database for this test."""
    if PG_URL:
        engine = make_engine(PG_URL)
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        yield PG_URL
        return
    path = tmp_path / "portal.db"
    shutil.copyfile(_schema_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def make_app(database_url):
    """Build apps on this test's database with extra settings; their engines are disposed."""
    apps = []

    def build(**config):
        app = create_app({"DATABASE_URL": database_url, "TESTING": True, "LOCAL_DEMO": True,
                          "SECRET_KEY": "test-" + "x" * 40, **CHEAP_ARGON2, **config})
        if "RATELIMIT_STORAGE_URI" not in config:
            with app.app_context():
                limiter.reset()  # in-memory counters are per process; start with none
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["service_portal.engine"].dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def session(make_app) -> Iterator[Session]:
    """A session outside any request, for arranging data and checking what was stored.

    Its transactions are deferred so that a test reading here never holds SQLite's write
    lock against the app or CLI it drives; call `session.rollback()` before reading what
    they wrote, to start a fresh snapshot. It lives in the context of an app of its own:
    requests to the `app` under test then push theirs, with a `g` of their own."""
    arranging = make_app()
    with arranging.app_context():
        s = Session(arranging.extensions["service_portal.engine"], expire_on_commit=False)
        yield s
        s.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(database_url, monkeypatch):
    """Invoke `service-portal` against this test's database; returns the click Result."""
    from service_portal.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def seed_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "seed"


@pytest.fixture
def write_file(tmp_path):
    """Write `content` (str or bytes) to a file in the test's folder and return its path."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write


# --- factories ------------------------------------------------------------------------

@pytest.fixture
def make(session):
    """Factories for rows: `make.brand()`, `make.shop(...)`, ... (committed)."""
    from tests.factories import Factories

    return Factories(session)
