"""Bringing a database to the newest schema with Alembic (`service-portal init-db`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
#: Created by hand in the migrations, unknown to the ORM metadata: the search's change
#: feed (migration 0005) and, before it, the SQL search index (0002).
HAND_MADE_PREFIXES = ("search_", "ix_shops_search_seq", "shops_rtree", "ecef_",
                      "ix_shops_point")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Keep autogenerate from dropping what the migrations made by hand (see above)."""
    return not (name or "").startswith(HAND_MADE_PREFIXES)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_to_head(engine: Engine) -> str:
    """Create or migrate the schema on `engine` to the newest revision; return it."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
