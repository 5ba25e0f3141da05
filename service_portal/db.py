"""Engine per app, one Session per request on `g`, committed once at the edge.

SQLite gets WAL, foreign keys, a busy timeout and, for write work, `BEGIN IMMEDIATE`:
a deferred SQLite transaction that later wants to write fails at once with "database is
locked" (ignoring the busy timeout) when another writer got there first, whereas an
immediate one queues behind it for up to the timeout. PostgreSQL gets the same bound as
its `lock_timeout`: a statement that waits longer for a lock fails, and the request
answers 503 with `Retry-After` (see `errors`) instead of tying up a worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import orjson
from flask import Flask, current_app, g, request
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (use as `default_factory`)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone; PostgreSQL gets `timestamptz`. Naive input is refused, so a
    local time can never be stored as if it were UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Seconds to wait for PostgreSQL to accept a connection: a load balancer's health check
#: gets its 503 before it gives up on the host.
CONNECT_TIMEOUT_S = 3
#: How often a PostgreSQL backend busy with a statement checks that its client is still
#: there: a killed command's transaction ends (and its locks go) within this time
#: instead of when its statement finishes.
CLIENT_CHECK_MS = 1000


def make_engine(url: str, *, lock_timeout_ms: int = 5000, statement_timeout_ms: int = 0,
                echo: bool = False) -> Engine:
    """Create the engine for `url` with the per-dialect settings this portal relies on:
    no statement waits more than `lock_timeout_ms` for a lock and, on PostgreSQL, none
    runs longer than `statement_timeout_ms` (0: no limit, for commands that load data)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        _configure_sqlite(engine, lock_timeout_ms)
        return engine
    # A custom plan per execution: the driver prepares a statement run five times, and
    # PostgreSQL's generic plan for `= ANY(array)` cannot see how many ids are bound
    # (it probed a part's every holder for 800 candidates: 19 ms instead of 2).
    options = (f"-c lock_timeout={int(lock_timeout_ms)} "
               f"-c statement_timeout={int(statement_timeout_ms)} "
               f"-c client_connection_check_interval={CLIENT_CHECK_MS} "
               "-c plan_cache_mode=force_custom_plan")
    return create_engine(url, echo=echo, pool_pre_ping=True,
                         connect_args={"options": options, "connect_timeout": CONNECT_TIMEOUT_S})


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin").
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_begin_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock up front."""
    return engine.execution_options(sqlite_begin_immediate=True)


def begin_writing(session: Session) -> None:
    """Take SQLite's write lock now, before the first write of a session that began as a
    reader (`reads_first`, or `session_scope(write=False)`), so that a long check before
    it held no lock. The read transaction ends (a temporary table stays: it belongs to
    the connection) and a `BEGIN IMMEDIATE` one begins on the same connection, queueing
    behind other writers for up to the busy timeout; the session's commit or rollback
    ends it. Nothing to do on PostgreSQL, where a statement locks only the rows it
    writes, or when the session took the lock at BEGIN."""
    connection = session.connection()
    transaction = session.get_transaction()
    if connection.dialect.name != "sqlite" or session.info.get("writing") is transaction \
            or connection.get_execution_options().get("sqlite_begin_immediate"):
        return
    connection.exec_driver_sql("COMMIT")
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    session.info["writing"] = transaction  # a second call in this transaction: nothing


def reads_first(view):
    """Mark a write route that reads and checks at length before it writes (a file
    import): its request's session begins as a reader, so other writers are not held up
    meanwhile, and the route takes the write lock with `begin_writing` just before it
    writes (a dry run never does)."""
    view.reads_first = True
    return view


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """A session for CLI work: commit once at the end, roll back on any error."""
    session = Session(writer(engine) if write else engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_engine() -> Engine:
    return current_app.extensions["service_portal.engine"]


def get_session(*, write: bool | None = None) -> Session:
    """The request's session, opened on first use.

    Requests with a write method take the write lock at BEGIN, unless their route
    `reads_first`; a GET that must write (an audit entry, say) asks for `write=True`
    before its first query.
    """
    session: Session | None = g.get("db_session")
    if session is None:
        wants_write = write if write is not None else (
            request.method in WRITE_METHODS and not _reads_first())
        engine = get_engine()
        session = Session(writer(engine) if wants_write else engine, expire_on_commit=False)
        g.db_session = session
    return session


def _reads_first() -> bool:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "reads_first", False)


def init_app(app: Flask) -> None:
    engine = make_engine(
        app.config["DATABASE_URL"],
        lock_timeout_ms=app.config["LOCK_TIMEOUT_MS"],
        statement_timeout_ms=app.config["STATEMENT_TIMEOUT_MS"],
        echo=app.config["SQL_ECHO"],
    )
    app.extensions["service_portal.engine"] = engine

    @app.after_request
    def _commit(response):
        session: Session | None = g.get("db_session")
        # A session that never began (a search answered from memory) has nothing to end.
        if session is not None and session.in_transaction():
            if response.status_code < 400 and not g.get("rollback_only"):
                session.commit()
            else:
                session.rollback()
        return response

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def upsert_by_key(session: Session, model: type, key: str,
                  records: list[dict]) -> tuple[int, int]:
    """Create or update rows of `model` matched on the unique column `key`.

    A row is only touched when a value differs, so loading the same data twice changes
    nothing (seed idempotence). Returns (created, updated). Flushes, never commits.
    """
    from sqlmodel import select

    column = getattr(model, key)
    existing = {getattr(row, key): row for row in session.exec(
        select(model).where(column.in_([r[key] for r in records])))}
    created = updated = 0
    for record in records:
        row = existing.get(record[key])
        if row is None:
            session.add(model(**record))
            created += 1
            continue
        changed = {k: v for k, v in record.items() if getattr(row, k) != v}
        if changed:
            for k, v in changed.items():
                setattr(row, k, v)
            updated += 1
    session.flush()
    return created, updated


def driver_mark(dialect) -> str:
    """The positional parameter mark of `dialect`'s driver, for `exec_driver_sql`."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


def bulk_insert(connection: Connection, table: str, columns: tuple[str, ...],
                rows: list[tuple]) -> None:
    """Insert plain tuples with the driver's executemany, bypassing per-row ORM and type
    processing (for bulk loads of millions of rows). Values must be driver-ready: use
    `driver_timestamp` for timestamps."""
    if not rows:
        return
    marker = driver_mark(connection.dialect)
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
           f"VALUES ({', '.join([marker] * len(columns))})")
    connection.exec_driver_sql(sql, rows)
    advance_id_sequence(connection, table, columns, rows)


def driver_timestamp(connection: Connection, moment: datetime):
    """A UTC timestamp as `UTCDateTime` would hand it to this connection's driver."""
    return UTCDateTime().process_bind_param(moment, connection.dialect)


def bulk_upsert_returning(connection: Connection, table: str, columns: tuple[str, ...],
                          rows: list[tuple], *, conflict: tuple[str, ...], update_sql: str,
                          where_sql: str, returning: str, chunk: int = 500) -> list:
    """`INSERT ... ON CONFLICT (...) DO UPDATE SET ... WHERE ... RETURNING ...` over many
    rows as multi-row VALUES statements, with driver-ready tuples: the ORM's per-row work
    costs more than the statement itself when a million rows go in."""
    out: list = []
    marker = driver_mark(connection.dialect)
    row_sql = "(" + ", ".join([marker] * len(columns)) + ")"
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
               f"{', '.join([row_sql] * len(part))} ON CONFLICT ({', '.join(conflict)}) "
               f"DO UPDATE SET {update_sql} WHERE {where_sql} RETURNING {returning}")
        flat = tuple(value for row in part for value in row)
        out.extend(connection.exec_driver_sql(sql, flat).fetchall())
    return out


def copy_rows(connection: Connection, table: str, columns: tuple[str, ...],
              rows: list[tuple]) -> None:
    """Append driver-ready tuples to `table` as fast as the driver allows: PostgreSQL's
    `COPY ... FROM STDIN` (one stream, no statement per row), else `bulk_insert`."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        bulk_insert(connection, table, columns, rows)
        return
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()
    advance_id_sequence(connection, table, columns, rows)


def advance_id_sequence(connection: Connection, table: str, columns: tuple[str, ...],
                        rows: list[tuple]) -> None:
    """After rows went in with explicit ids, move the table's id sequence (PostgreSQL)
    past them, so that the next row made without an id gets a free one. Never moves it
    back: `nextval` in the same statement covers ids handed out meanwhile. SQLite needs
    nothing: it numbers new rows after the largest id there is."""
    if connection.dialect.name != "postgresql" or "id" not in columns or not rows:
        return
    at = columns.index("id")
    written = max(row[at] for row in rows)
    connection.exec_driver_sql(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
        "GREATEST(%s, nextval(pg_get_serial_sequence(%s, 'id'))))", (table, written, table))


def id_in(dialect_name: str, column: str) -> str:
    """SQL testing that `column` is one of the integers bound as one positional driver
    parameter (see `id_bind`; run with `exec_driver_sql`). A thousand ids bound as one
    value cost microseconds; as the parameters of an expanding IN, far more. PostgreSQL
    gets `= ANY(array)`, which its planner answers from an index (it scans the whole
    table to hash-join an `IN (SELECT ... unnest(...))`)."""
    if dialect_name == "postgresql":
        return f"{column} = ANY(CAST(%s AS bigint[]))"
    return f"{column} IN (SELECT value FROM json_each(?))"


def id_bind(dialect_name: str, ids) -> object:
    """The value of an `id_in` parameter: a list for PostgreSQL, a JSON array for
    SQLite (`ids`: any sequence of integers, or a NumPy integer array)."""
    if dialect_name == "postgresql":
        return ids.tolist() if hasattr(ids, "tolist") else list(ids)
    return orjson.dumps(ids if hasattr(ids, "dtype") else list(ids),
                        option=orjson.OPT_SERIALIZE_NUMPY).decode()
