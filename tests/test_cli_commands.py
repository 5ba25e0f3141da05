"""The other `service-portal` commands: users, tokens, serve, demo, and --help for all."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service_portal.cli import main
from service_portal.security import hash_token, verify_password
from service_portal.shops.models import Organization
from service_portal.users.models import ApiToken, User


def all_commands(group=main, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("command", list(all_commands()), ids=" ".join)
def test_every_command_has_help(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_create_user_with_password_from_stdin(cli, session):
    result = cli("create-user", "--email", "Staff@Example.org", "--role", "staff",
                 "--password-stdin", input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    user = session.scalars(select(User)).one()
    assert user.email == "staff@example.org" and user.role == "staff"
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "correct horse battery")


def test_create_dealer_needs_a_known_organisation(cli, session):
    result = cli("create-user", "--email", "d@x.example", "--role", "dealer")
    assert result.exit_code != 0 and "organisation" in result.output
    result = cli("create-user", "--email", "d@x.example", "--role", "dealer", "--org", "nope")
    assert result.exit_code != 0 and "Unknown organisation" in result.output
    session.add(Organization(slug="acme-ev", name="Acme EV"))
    session.commit()
    assert cli("create-user", "--email", "d@x.example", "--role", "dealer",
               "--org", "acme-ev").exit_code == 0


@pytest.mark.parametrize("args, message", [
    (("--email", "not-an-email", "--role", "staff"), "email"),
    (("--email", "a@b.example", "--role", "root"), "Invalid value for '--role'"),
])
def test_create_user_refuses_bad_input_with_one_line(cli, args, message):
    result = cli("create-user", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: ")


def test_short_password_is_refused(cli, session):
    result = cli("create-user", "--email", "a@b.example", "--role", "staff", "--password-stdin",
                 input="short\n")
    assert result.exit_code != 0 and "8" in result.output
    assert session.scalars(select(User)).all() == []


def test_duplicate_user_is_refused(cli):
    cli("create-user", "--email", "a@b.example", "--role", "staff")
    result = cli("create-user", "--email", "A@B.example", "--role", "admin")
    assert result.exit_code != 0 and "exists" in result.output


def test_create_token_prints_it_last_and_stores_only_its_hash(cli, session):
    cli("create-user", "--email", "a@b.example", "--role", "staff")
    result = cli("create-token", "--email", "a@b.example", "--name", "ci")
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) >= 40
    stored = session.scalars(select(ApiToken)).one()
    assert stored.token_hash == hash_token(token) and token not in stored.token_hash
    assert stored.name == "ci"


def test_create_token_for_unknown_user_fails(cli):
    result = cli("create-token", "--email", "ghost@b.example")
    assert result.exit_code != 0 and "No active user" in result.output


@pytest.mark.parametrize("secret", [None, "short", "changeme" * 4])
def test_serve_refuses_a_missing_or_weak_secret_key(cli, monkeypatch, secret):
    if secret is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("SECRET_KEY", secret)
    result = cli("serve")
    assert result.exit_code != 0 and "SECRET_KEY" in result.output


def test_bad_setting_is_a_one_line_error(cli, monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_MB", "lots")
    result = cli("init-db")
    assert result.exit_code != 0 and "MAX_UPLOAD_MB" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@pytest.mark.slow
def test_demo_brings_up_the_portal_with_demo_data(tmp_path):
    """`demo` on an empty SQLite file: migrates, seeds, prints logins and serves."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    env.pop("SECRET_KEY", None)
    out = (tmp_path / "demo.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-c", "from service_portal.cli import main; main()", "demo",
         "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", process)
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "315 shops" in page
        log = Path(out.name).read_text()
        assert "Sign in at" in log
        for email in ("admin@service-portal.example", "staff@service-portal.example"):
            assert email in log
        assert len(re.findall(r"^  dealer +dealer@\S+\.example +\S+$", log, re.M)) == 1
        # The email worker runs beside the server, as a child of `demo`.
        children = subprocess.run(["pgrep", "-P", str(process.pid), "-a"],
                                  capture_output=True, text=True).stdout
        assert "worker" in children, children
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        out.close()


@pytest.mark.slow
def test_serve_runs_gunicorn_workers_with_a_strong_key(tmp_path, database_url, make):
    token = make.token(make.user("staff"))
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url,
           "SECRET_KEY": "Zq8-3kLp0_vW7xYb2nM4cR6tA9sD1fGh"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from service_portal.cli import main; main()", "serve",
         "--port", str(port), "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert _get(f"http://127.0.0.1:{port}/healthz") == (200, '{"status":"ok"}\n')
        # Before any search, every worker answering holds the index, loaded once by the
        # server's master process before it forked them (not by the worker itself).
        for _ in range(30):
            detail = urllib.request.Request(f"http://127.0.0.1:{port}/healthz?detail=1",
                                            headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(detail, timeout=5) as response:
                index = json.loads(response.read())["search_index"]
            assert index["loaded"] is True, index
            assert index["loaded_by_process"] == process.pid != index["process"], index
        # The search was made ready before the server listened: no first-search load.
        started = time.perf_counter()
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/shops?near=Frankfurt")
        assert time.perf_counter() - started < 1.0
        assert status == 200 and '"total":0' in body.replace(" ", "")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        _out, err = process.communicate(timeout=20)
    assert b"Booting worker" in err


# --- what the long commands say while and after they work ---------------------------------

def test_init_db_says_what_it_migrated_and_loaded(cli, session):
    from service_portal.catalog.models import Brand, VehicleModel, WmiCode
    from service_portal.migrate import head_revision

    result = cli("init-db")
    assert result.exit_code == 0, result.output
    session.rollback()
    lines = result.output.splitlines()
    assert f"Database at revision {head_revision()}" in result.output
    for kind, model in (("brands", Brand), ("models", VehicleModel), ("wmi codes", WmiCode)):
        stored = session.scalar(select(func.count()).select_from(model))
        assert f"  {kind}: {stored} created, 0 updated, 0 unchanged" in lines
    assert re.search(r"^Reference catalog: \d+ created, 0 updated, 0 unchanged; \d+ rows in "
                     r"[\d.]+ s", result.output, re.M)
    again = cli("load-reference")
    assert "  brands: 0 created, 0 updated, 12 unchanged" in again.output.splitlines()
    assert "Nothing to change." in again.output


def test_seed_tells_each_step_as_it_starts_and_ends_and_sums_up(cli, session):
    from service_portal.parts.models import Part, Stock
    from service_portal.shops.models import Shop

    assert cli("init-db").exit_code == 0
    first = cli("seed")
    assert first.exit_code == 0, first.output
    session.rollback()
    counts = {"shops": session.scalar(select(func.count()).select_from(Shop)),
              "parts": session.scalar(select(func.count()).select_from(Part)),
              "stock": session.scalar(select(func.count()).select_from(Stock))}
    for step, stored in counts.items():
        assert re.search(rf"^  {step} \.\.\. {stored:,} created, 0 updated, 0 unchanged "
                         r"\(in [\d.]+ s\)$", first.output, re.M), step
    summary = first.output.strip().splitlines()[-1]
    assert re.match(r"Demo data set: [\d,]+ rows created and 0 updated in \d+ steps", summary)
    assert f"shops {counts['shops']:,} created, 0 updated" in summary
    again = cli("seed")
    assert re.search(r"^Demo data set: 0 rows created and 0 updated", again.output, re.M)
    assert f"  shops ... 0 created, 0 updated, {counts['shops']:,} unchanged" in again.output


def test_seed_with_generated_shops_reports_them(cli):
    assert cli("init-db").exit_code == 0
    result = cli("seed", "--shops", "20")
    assert result.exit_code == 0, result.output
    assert re.search(r"^Generated shops: 20 new of 20 wanted \(20 shops in [\d.]+ s",
                     result.output, re.M)


def test_imports_end_with_rows_rate_and_counts(cli, write_file):
    assert cli("init-db").exit_code == 0
    shops = write_file("shops.csv", (
        "external_id,name,organization,brands,services,languages,address,city,postal_code,"
        "country,lat,lon,timezone,phone,email,website,opening_hours\n"
        "fra-1,Main EV,main-ev,byd:authorized,maintenance,de,,Frankfurt,,DE,50.1,8.7,,,,,"
        "Mo-Fr 08:00-18:00\n"
        "fra-2,Ufer EV,main-ev,mg:partner,tyres,de,,Frankfurt,,DE,50.11,8.69,,,,,"
        "Mo-Fr 08:00-18:00\n"))
    result = cli("import-shops", str(shops))
    assert result.exit_code == 0, result.output
    assert re.search(r"^shops\.csv: 2 rows checked in [\d.]+ s.*; shops: created: 2, "
                     r"updated: 0, unchanged: 0$", result.output, re.M)
    parts = write_file("parts.csv", "part_number,brand,name,category,superseded_by,fits\n"
                                    "BYD-1,byd,Brake pads,brakes,,byd-atto-3\n")
    result = cli("import-parts", str(parts))
    assert re.search(r"^parts\.csv: 1 row checked in [\d.]+ s.*; parts: created: 1",
                     result.output, re.M), result.output
    stock = write_file("stock.csv", "part_number,qty,price,currency\nBYD-1,3,20.00,EUR\n")
    result = cli("import-stock", str(stock), "--shop", "fra-1", "--dry-run")
    assert re.search(r"^stock\.csv: 1 row checked in [\d.]+ s.*; stock lines \(dry run: nothing "
                     r"was stored; counts of what the file would do\): created: 1",
                     result.output, re.M), result.output
    result = cli("import-stock", str(stock), "--shop", "fra-1")
    assert re.search(r"; stock lines: created: 1, updated: 0", result.output), result.output
    result = cli("import-stock", str(stock), "--shop", "fra-1")
    assert re.search(r"; stock lines: created: 0, updated: 0", result.output), result.output


def test_commands_on_a_database_without_schema_say_to_run_init_db(monkeypatch, tmp_path,
                                                                  write_file):
    from click.testing import CliRunner

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    stock = write_file("stock.csv", "part_number,qty,price,currency\nBYD-1,3,20.00,EUR\n")
    for args in (["seed"], ["load-reference"], ["import-stock", str(stock), "--shop", "x"]):
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 1, args
        assert result.output.strip().splitlines()[-1].startswith("Error: "), result.output
        assert "run `service-portal init-db` first" in result.output
