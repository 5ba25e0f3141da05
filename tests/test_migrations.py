"""The schema comes from Alembic migrations alone, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from service_portal.db import make_engine
from service_portal.migrate import current_revision, head_revision, include_object, upgrade_to_head
from service_portal.models import metadata
from tests.conftest import PG_URL


@pytest.fixture
def empty_engine(tmp_path):
    """An empty database of the kind under test (SQLite, or a throwaway PostgreSQL one)."""
    if not PG_URL:
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    name = f"portal_mig_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}"'))
    admin.dispose()


def test_empty_database_migrates_to_head(empty_engine):
    assert current_revision(empty_engine) is None
    upgrade_to_head(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    tables = set(inspect(empty_engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= tables


def test_init_db_twice_changes_nothing(empty_engine):
    upgrade_to_head(empty_engine)
    upgrade_to_head(empty_engine)
    assert current_revision(empty_engine) == head_revision()


def test_migrations_match_the_models(empty_engine):
    upgrade_to_head(empty_engine)
    with empty_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                     "include_object": include_object})
        assert compare_metadata(ctx, metadata) == []


def test_init_db_command_reports_the_head_revision(cli):
    result = cli("init-db")
    assert result.exit_code == 0
    assert head_revision() in result.output
