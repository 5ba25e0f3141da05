"""The `service-portal` command line (CONTRACT section 1); each command calls a service."""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from . import create_app
from .audit.actors import Actor
from .config import is_strong_secret
from .db import get_engine, session_scope
from .errors import PortalError
from .tabular import ImportFailed, read_table

#: Threads per worker (`serve --threads`); see `serving`.
THREADS = 4


def _app(config: dict[str, Any] | None = None) -> Flask:
    try:
        return create_app(config)
    except ValueError as exc:  # a malformed setting
        raise click.ClickException(str(exc)) from None


@contextmanager
def _context(config: dict[str, Any] | None = None) -> Iterator[Flask]:
    """An app with its context pushed; its database connections are closed at the end.
    Commands load and check data for as long as it takes: no statement timeout."""
    app = _app({"STATEMENT_TIMEOUT_MS": 0, **(config or {})})
    try:
        with app.app_context():
            yield app
    finally:
        app.extensions["service_portal.engine"].dispose()


def _run(work: Callable[[], Any]) -> Any:
    """Run `work`; a domain error becomes its per-row report plus a one-line reason."""
    try:
        return work()
    except ImportFailed as exc:
        for err in exc.errors:
            where = f"row {err.row}" + (f", column {err.column}" if err.column else "")
            click.echo(f"{where}: {err.message}", err=True)
        raise click.ClickException(exc.message or "") from None
    except PortalError as exc:
        raise click.ClickException(str(exc.message or exc.default_message)) from None


@click.group(help="Service Portal: find a shop that can fix a Chinese new-energy vehicle.")
def main() -> None:
    pass


def _counts_text(counts: dict[str, int]) -> str:
    """`12 created, 3 updated, 40 unchanged`: the counts in a sentence, zeros included
    for the usual three (a reader asks "and how many were updated?")."""
    shown = {key: value for key, value in counts.items()
             if value or key in ("created", "updated", "unchanged")}
    return ", ".join(f"{value:,} {key.replace('_', ' ')}" for key, value in shown.items())


def _took(seconds: float, rows: int | None = None, what: str = "rows", verb: str = "") -> str:
    """`in 2.4 s`, or `3,000 rows [verb] in 2.4 s (1,250 rows/s)`."""
    if rows is None:
        return f"in {seconds:.1f} s"
    rate = f" ({rows / seconds:,.0f} {what}/s)" if seconds >= 0.05 else ""
    noun = what[:-1] if rows == 1 and what.endswith("s") else what
    return f"{rows:,} {noun}{' ' + verb if verb else ''} in {seconds:.1f} s{rate}"


@main.command("init-db")
def init_db() -> None:
    """Create or migrate the schema on DATABASE_URL to the newest revision, then load the
    reference catalog (brands, models, services, WMI codes, markets) shipped with the
    portal."""
    with _context():
        _init_db()


def _init_db() -> None:
    from .migrate import upgrade_to_head

    click.echo("Migrating the schema ...")
    started = time.perf_counter()
    revision = upgrade_to_head(get_engine())
    click.echo(f"Database at revision {revision} ({_took(time.perf_counter() - started)}).")
    _load_reference()


def _require_schema() -> None:
    """A one-line refusal for a database that `init-db` has not brought to the newest
    schema (a command would otherwise fail on a missing table)."""
    from .migrate import current_revision, head_revision

    try:
        revision = current_revision(get_engine())
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the database: {exc.__class__.__name__}") \
            from None
    if revision != head_revision():
        raise click.ClickException(
            f"the database schema is at revision {revision or 'none'}, not "
            f"{head_revision()}: run `service-portal init-db` first")


@main.command("load-reference")
def load_reference_cmd() -> None:
    """Load the reference catalog (brands, models, services, WMI codes, markets) shipped
    with the portal: create what is missing, update what changed, and leave every row an operator
    edited in the admin area as they left it (idempotent; audited when it changes
    anything)."""
    with _context():
        _require_schema()
        _load_reference()


def _load_reference() -> None:
    from .reference.load import changed_anything, load_reference, totals

    click.echo("Loading the reference catalog ...")
    started = time.perf_counter()
    with session_scope(get_engine()) as session:
        report = _run(lambda: load_reference(
            session, Actor.command_line(),
            progress=lambda kind, counts: click.echo(f"  {kind}: {_counts_text(counts)}")))
    total = totals(report)
    kept = (f" {total['kept']:,} rows an operator edited in the admin area were left as "
            "they are." if total["kept"] else "")
    rows = sum(total.values())
    click.echo(f"Reference catalog: {_counts_text(total)}; "
               f"{_took(time.perf_counter() - started, rows)}."
               + ("" if changed_anything(report) else " Nothing to change.") + kept)


@main.command()
@click.option("--shops", "shops", type=click.IntRange(min=0), default=0,
              help="Also add this many generated shops with stock (for benchmarks).")
@click.option("--random-seed", type=int, default=1, show_default=True,
              help="Seed for the generated shops.")
def seed(shops: int, random_seed: int) -> None:
    """Load the demo data set from seed/ (idempotent); needs the reference catalog that
    init-db loads."""
    with _context():
        _require_schema()
        _seed(shops, random_seed)


def _seed(shops: int = 0, random_seed: int = 1) -> None:
    from .seeding.generate import generate_shops
    from .seeding.load import Step, load_seed

    open_line = []

    def tell(step: Step) -> None:
        # The start of a step on one line, finished by its counts when it is done.
        if step.counts is None:
            click.echo(f"  {step.name} ...", nl=False)
            open_line.append(step.name)
        else:
            click.echo(f" {_counts_text(step.counts)} ({_took(step.seconds)})")
            open_line.clear()

    click.echo("Loading the demo data set ...")
    started = time.perf_counter()
    try:
        with session_scope(get_engine()) as session:
            report = _run(lambda: load_seed(session, progress=tell))
    finally:
        if open_line:  # a step failed: its reason starts on a line of its own
            click.echo(" failed")
    created = sum(counts.get("created", 0) for counts in report.values())
    updated = sum(counts.get("updated", 0) for counts in report.values())
    click.echo(f"Demo data set: {created:,} rows created and {updated:,} updated in "
               f"{len(report)} steps ({_took(time.perf_counter() - started)}); per step: "
               + "; ".join(f"{name} {_counts_text(counts)}" for name, counts in report.items())
               + ".")
    if not shops:
        return
    started = time.perf_counter()
    with session_scope(get_engine()) as session, click.progressbar(
            length=shops, label="Generating shops", show_pos=True, show_eta=True,
            file=sys.stderr) as bar:
        last = [0]

        def advance(done: int, _total: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        added = generate_shops(session, shops, random_seed=random_seed, progress=advance)
    click.echo(f"Generated shops: {added:,} new of {shops:,} wanted "
               f"({_took(time.perf_counter() - started, added, 'shops')}).")
    if get_engine().dialect.name == "postgresql":
        # Fresh statistics for the tables just filled (autovacuum would take its time):
        # with none, the search's change questions were planned as scans.
        with get_engine().begin() as connection:
            connection.exec_driver_sql("ANALYZE shops, shop_brands, shop_services, "
                                       "shop_languages, stock, search_removed_shops")


class _RowProgress:
    """Rows counted on a click progress bar on stderr. Where stderr is no terminal (a log,
    a pipe), the bar draws nothing after its label: a line every `every` rows says how
    far the work got instead."""

    def __init__(self, label: str, every: int = 10_000) -> None:
        # The rows stream, so their number is unknown: a generator has no length (click
        # then shows the count without a percentage); the bar is only ever `update`d.
        self.bar = click.progressbar((row for row in ()), label=label, show_pos=True,
                                     file=sys.stderr)
        self.drawn = sys.stderr.isatty()
        self.every, self.count, self._told = every, 0, 0
        self.started = time.perf_counter()

    def __enter__(self) -> _RowProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def add(self, rows: int) -> None:
        self.count += rows
        self.bar.update(rows)
        if not self.drawn and self.count - self._told >= self.every:
            self._told = self.count
            click.echo(f"  {self.count:,} rows checked "
                       f"({_took(time.perf_counter() - self.started)})", err=True)

    def counted(self, rows: Iterable) -> Iterator:
        """`rows` as they are read, counted in steps of a hundred (the rest at the end)."""
        pending = 0
        for item in rows:
            pending += 1
            if pending == 100:
                self.add(pending)
                pending = 0
            yield item
        self.add(pending)


def _import(kind: str, path: Path, **options) -> None:
    from .parts.services import STOCK_BATCH, import_parts, import_stock
    from .shops.services import import_shops

    action = {"shops": import_shops, "parts": import_parts, "stock": import_stock}[kind]
    with _context(), path.open("rb") as handle, _RowProgress(
            f"Checking {path.name}", every=STOCK_BATCH) as progress:
        # The file streams through the import; `table` outlives `handle`, so its reader
        # never closes the file behind the `with`.
        _require_schema()
        table = _run(lambda: read_table(handle, path.name, max_rows=None))
        if kind == "stock":  # it counts each batch once checked
            options.update(actor=Actor.command_line(), source=path.name,
                           progress=progress.add)
        else:
            table.rows = progress.counted(table.rows)
        # Imports check the file without the write lock and take it to write.
        with session_scope(get_engine(), write=False) as session:
            counts = _run(lambda: action(session, table, **options))
    noun = {"shops": "shops", "parts": "parts", "stock": "stock lines"}[kind]
    dry = " (dry run: nothing was stored; counts of what the file would do)" \
        if options.get("dry_run") else ""
    took = _took(time.perf_counter() - progress.started, progress.count, verb="checked")
    click.echo(f"{path.name}: {took}; {noun}{dry}: "
               + ", ".join(f"{k}: {v}" for k, v in counts.items()))


@main.command("import-shops")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_shops_cmd(file: Path) -> None:
    """Create or update shops from CSV, matched on external_id; all or nothing."""
    _import("shops", file)


@main.command("import-parts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_parts_cmd(file: Path) -> None:
    """Create or update the parts catalog from CSV, matched on part_number; all or nothing."""
    _import("parts", file)


@main.command("import-stock")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--shop", "shop", metavar="EXTERNAL_ID", help="Every row is for this shop.")
@click.option("--replace", is_flag=True, help="Remove the shop's stock that the file omits.")
@click.option("--dry-run", is_flag=True, help="Check the file and report; store nothing.")
def import_stock_cmd(file: Path, shop: str | None, replace: bool, dry_run: bool) -> None:
    """Load stock from CSV or XLSX; all or nothing; prints per-row errors."""
    _import("stock", file, shop_external_id=shop, replace=replace, dry_run=dry_run)


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["owner", "dealer", "staff", "admin"]))
@click.option("--org", "org", metavar="SLUG", help="The user's organisation (dealers).")
@click.option("--name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_cmd(email: str, role: str, org: str | None, name: str,
                    password_stdin: bool) -> None:
    """Add a user."""
    from .users.services import create_user

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with _context(), session_scope(get_engine()) as session:
        user = _run(lambda: create_user(session, email=email, role=role, organization=org,
                                        name=name, password=password))
        click.echo(f"Created {user.role} {user.email}.")


@main.command("create-token")
@click.option("--email", required=True)
@click.option("--name", default="cli", show_default=True, help="A name to recognise it by.")
def create_token_cmd(email: str, name: str) -> None:
    """Print a new API token for the user on the last line (shown once; stored hashed)."""
    from .users.services import issue_token

    with _context(), session_scope(get_engine()) as session:
        token = _run(lambda: issue_token(session, email=email, name=name,
                                          actor=Actor.command_line()))
    click.echo("New API token (shown once, keep it safe):", err=True)
    click.echo(token)


@main.group("user")
def user_group() -> None:
    """Change a user's password, disable or enable them, end their sessions (audited)."""


@user_group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
def user_set_password_cmd(email: str, password_stdin: bool) -> None:
    """Give the user a new password; their sessions end."""
    from .users.services import change_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _context(), session_scope(get_engine()) as session:
        ended = _run(lambda: change_password(session, email=email, password=password,
                                             actor=Actor.command_line()))
    click.echo(f"Password changed; sessions ended: {ended}.")


@user_group.command("disable")
@click.argument("email")
def user_disable_cmd(email: str) -> None:
    """Stop the user signing in; their sessions end and their tokens are refused."""
    from .users.services import disable_user

    with _context(), session_scope(get_engine()) as session:
        ended = _run(lambda: disable_user(session, email=email, actor=Actor.command_line()))
    click.echo(f"Disabled; sessions ended: {ended}.")


@user_group.command("enable")
@click.argument("email")
def user_enable_cmd(email: str) -> None:
    """Let a disabled user sign in (and use their unrevoked tokens) again."""
    from .users.services import enable_user

    with _context(), session_scope(get_engine()) as session:
        _run(lambda: enable_user(session, email=email, actor=Actor.command_line()))
    click.echo("Enabled.")


@user_group.command("sign-out")
@click.argument("email")
def user_sign_out_cmd(email: str) -> None:
    """End every browser session of the user."""
    from .users.services import end_user_sessions

    with _context(), session_scope(get_engine()) as session:
        ended = _run(lambda: end_user_sessions(session, email=email, actor=Actor.command_line()))
    click.echo(f"Sessions ended: {ended}.")


@main.command("search-check")
@click.option("--repair", is_flag=True,
              help="Make every process load its search index afresh before its next search.")
def search_check_cmd(repair: bool) -> None:
    """Compare the search index with the database; exits 1 when they differ."""
    from .search import app_index
    from .search.check import differences, request_reload, stamps_ahead
    from .search.index import ShopIndex
    from .search.stock import repair_cells, stale_cells

    with _context() as app:
        by_changes = ShopIndex(get_engine()).built_by_changes()
        report = differences(by_changes, app_index(app).current())
        with session_scope(get_engine(), write=repair) as session:
            ahead = stamps_ahead(session)
            stale = stale_cells(session)
            if repair:
                repair_cells(session)
            epoch = request_reload(session) if repair else None
    examples = report["missing"] + report["extra"] + report["changed"]
    click.echo(f"shops in the index: {report['shops']:,}")
    click.echo("built from the change feed, differing from a full load: "
               f"{report['differences']:,}" + (f" (e.g. shops {examples})" if examples else ""))
    click.echo(f"stamps ahead of the change feed: {ahead:,}")
    click.echo(f"stock rows without their shop's map cell: {stale:,}"
               + (" (repaired)" if repair and stale else ""))
    if repair:
        click.echo(f"every process loads its index afresh before its next search (epoch {epoch}); "
                   "each reports what it found in GET /healthz?detail=1")
    elif report["differences"] or ahead or stale:
        raise click.ClickException("the search index and the database differ: run "
                                   "`service-portal search-check --repair`")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def demo(host: str, port: int) -> None:
    """init-db + seed into a local SQLite file, print the demo logins, serve."""
    from .seeding.load import reset_demo_passwords

    config = {"SECRET_KEY": secrets.token_urlsafe(32), "LOCAL_DEMO": True}
    with _context(config) as app:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        click.echo(f"Database: {app.config['DATABASE_URL']}")
        _init_db()
        _seed()
        click.echo("Giving the demo users new passwords ...", nl=False)
        started = time.perf_counter()
        with session_scope(get_engine()) as session:
            logins = reset_demo_passwords(session)
        click.echo(f" {len(logins)} set ({_took(time.perf_counter() - started)}).")
    click.echo(f"\nSign in at http://{host}:{port}/login (passwords are new on every run):")
    for role, email, password, purpose in _demo_logins(app, logins):
        click.echo(f"  {role:<7} {email:<44} {password}\n          {purpose}")
    click.echo(f"  ({len(logins) - 3} more dealer accounts, one per organisation: an admin "
               "sets their passwords at /admin/users.)")
    mail = Path(app.instance_path) / "mail"
    click.echo(f"\nEmails: a background worker writes each one as an .eml file in {mail}")
    click.echo("\nStarting the server (it loads the search index before it answers) ...")
    click.echo(f"Service Portal on http://{host}:{port}/  (Ctrl+C stops it)\n")
    mailer = _background_worker(app.config["DATABASE_URL"], config["SECRET_KEY"],
                                f"http://{host}:{port}")
    try:
        _serve(host, port, workers=2, config=config)
    finally:
        mailer.terminate()
        mailer.wait(timeout=10)


def _demo_logins(app: Flask, logins: list[tuple[str, str, str]]) -> list[tuple[str, ...]]:
    """One login per role, with what it is for: the admin, the staff member, and the
    dealer whose organisation runs the most shops."""
    from sqlalchemy import func, select

    from .shops.models import Shop
    from .users.models import User

    with app.app_context(), session_scope(get_engine(), write=False) as session:
        dealer = session.scalars(
            select(User.email).join(Shop, Shop.organization_id == User.organization_id)
            .where(User.role == "dealer").group_by(User.email)
            .order_by(func.count(Shop.id).desc(), User.email).limit(1)).first()
    purposes = {
        "admin": "accounts (/admin/users), the audit log, and everything staff do",
        "staff": "the case queue (/staff/cases), cases, bulletins, the dashboard",
        "dealer": "the organisation's shops (/dealer/): stock, profile, cases, API tokens"}
    chosen = []
    for role in ("admin", "staff", "dealer"):
        for email, account_role, password in logins:
            if account_role == role and (role != "dealer" or email == dealer):
                chosen.append((role, email, password, purposes[role]))
                break
    return chosen


def _background_worker(database_url: str, secret_key: str, base_url: str):
    """`service-portal worker` as a child process, with the demo's database and key (its
    links must verify in the demo) and no SMTP_URL: messages become .eml files."""
    import subprocess

    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secret_key,
           "PUBLIC_BASE_URL": base_url, "SMTP_URL": ""}
    return subprocess.Popen([sys.executable, "-c", "from service_portal.cli import main; main()",
                             "worker"], env=env)


@main.command()
@click.option("--once", is_flag=True, help="Send what is due now, then stop.")
def worker(once: bool) -> None:
    """Send the notifications the outbox holds: over SMTP_URL, or without it as .eml files
    in the instance folder's mail/. Several may run, on several hosts (PostgreSQL)."""
    import logging
    import signal

    from .notifications.worker import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    with _context() as app:
        try:
            claimed = run(app, once=once, should_stop=lambda: bool(stopping))
        except KeyboardInterrupt:
            claimed = None
    if claimed is not None:
        click.echo(f"Worker stopped after {claimed} notifications.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=THREADS, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve with a production WSGI server (gunicorn); needs a strong SECRET_KEY."""
    if not is_strong_secret(os.environ.get("SECRET_KEY")):
        raise click.ClickException(
            "SECRET_KEY is missing or weak: set it to at least 32 random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))').")
    _serve(host, port, workers=workers, threads=threads, config=None)


def _serve(host: str, port: int, *, workers: int, config: dict | None,
           threads: int = THREADS) -> None:
    from .serving import run

    run(host, port, workers=workers, threads=threads, config=config)


@main.group()
def translations() -> None:
    """Extract, update and compile the message catalogs (see README)."""


@translations.command()
def extract() -> None:
    """Write translations/messages.pot from the code and templates."""
    from .catalogs import extract_catalog

    click.echo(extract_catalog())


@translations.command()
def update() -> None:
    """Merge messages.pot into every locale's messages.po."""
    from .catalogs import update_catalogs

    click.echo(update_catalogs())


@translations.command("compile")
def compile_cmd() -> None:
    """Build the .mo files the portal reads at run time."""
    from .catalogs import compile_catalogs

    click.echo(compile_catalogs())


@main.command()
@click.option("--dry-run", is_flag=True, help="List what would be erased; change nothing.")
def retention(dry_run: bool) -> None:
    """Erase the personal data of cases closed longer ago than their market's retention
    period, as the staff erasure does (one audit entry per run); the worker runs it daily."""
    from .markets.retention import apply_retention

    with _context(), session_scope(get_engine(), write=not dry_run) as session:
        run = _run(lambda: apply_retention(session, actor=Actor.command_line(),
                                           dry_run=dry_run))
    for reference, country, closed_at in run.cases:
        click.echo(f"{reference}  {country}  closed {closed_at.date().isoformat()}")
    verb = "Would erase" if dry_run else "Erased"
    click.echo(f"{verb} the personal data of {len(run.cases)} cases "
               f"({len(run.cutoffs)} markets).")
