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
from sqlalchemy import select

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
