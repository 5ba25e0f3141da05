"""Helpers the test modules share: what is stored (a snapshot of every table), CSRF tokens
read from pages as a browser would, and signing in through the login form."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import select
from sqlalchemy.engine import Engine

from service_portal.models import metadata

_CSRF_FIELD = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
_VALUE = re.compile(r'value="([^"]+)"')


def table_snapshot(engine: Engine) -> dict[str, tuple[int, str]]:
    """Every table's row count and a checksum of its rows (in primary-key order), read in a
    transaction of its own so that it sees everything committed so far."""
    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*order)).all()
            digest = hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()
            out[table.name] = (len(rows), digest)
    return out


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name))


def csrf_token(page: str | bytes) -> str:
    """The CSRF token of the first form on `page`."""
    text = page.decode() if isinstance(page, bytes) else page
    field = _CSRF_FIELD.search(text)
    assert field, "the page carries no CSRF token"
    return _VALUE.search(field.group(0)).group(1)


def sign_in(client, email: str, password: str) -> None:
    """Sign in through the login form; fails the test unless the portal let the user in."""
    token = csrf_token(client.get("/login").text)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token, "next": ""})
    assert response.status_code == 302, f"sign-in of {email} refused: {response.status_code}"
    assert client.get("/account/tokens").status_code == 200, f"{email} is not signed in"
