"""Signing in with a browser: server-side sessions under Flask-Login.

The session cookie (signed, HttpOnly, SameSite=Lax, Secure outside the local demo) holds
only a random session id whose SHA-256 names a `user_sessions` row. Signing in makes a
new id (so an id planted before login is worthless); signing out, idling past the idle
timeout or outliving the absolute lifetime ends the row, so a cookie saved earlier is
refused afterwards. The limits are settings: `STAFF_SESSION_IDLE_MINUTES` (staff and
admins, 30), `SESSION_IDLE_MINUTES` (dealers and owners, 480) and
`SESSION_LIFETIME_HOURS` (everyone, 12, counted from sign-in; also the cookie's lifetime).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, session
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, login_user, logout_user
from sqlalchemy import select, update

from ..db import get_engine, session_scope, utcnow
from ..fields import is_single_line
from ..security import hash_password, hash_token, password_needs_rehash, verify_password
from .models import User, UserSession
from .queries import may_sign_in

TOUCH_EVERY = timedelta(minutes=1)

login_manager = LoginManager()


class SignedIn(UserMixin):
    """The signed-in user as Flask-Login sees them; `get_id` is the session id."""

    def __init__(self, user: User, session_id: str) -> None:
        self.user = user
        self.session_id = session_id

    def get_id(self) -> str:
        return self.session_id

    @property
    def role(self) -> str:
        return self.user.role


def idle_limit(role: str) -> timedelta:
    """How long a session of `role` lives without a request."""
    key = "STAFF_SESSION_IDLE_MINUTES" if role in ("staff", "admin") else "SESSION_IDLE_MINUTES"
    return timedelta(minutes=current_app.config[key])


def lifetime() -> timedelta:
    """How long any session lives after sign-in, however busy."""
    return timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"])


@login_manager.user_loader
def _load(session_id: str) -> SignedIn | None:
    """The user of a live session; an ended, idle or too old one signs the browser out."""
    with session_scope(get_engine(), write=False) as db:
        row = db.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                         .where(UserSession.token_hash == hash_token(session_id),
                                UserSession.ended_at.is_(None),
                                may_sign_in())).first()
    if row is None:
        return None
    user_session, user = row
    now = utcnow()
    if now - user_session.last_seen_at > idle_limit(user.role) \
            or now - user_session.created_at > lifetime():
        end_session(session_id)
        return None
    if now - user_session.last_seen_at > TOUCH_EVERY:
        with session_scope(get_engine()) as db:
            db.execute(update(UserSession).where(UserSession.id == user_session.id)
                       .values(last_seen_at=now))
    return SignedIn(user, session_id)


def authenticate(db, email: str, password: str) -> User | None:
    """The user with this email and password who `may_sign_in`, or None. The answer takes
    as long whether the account exists, is disabled (or its organisation is) or has no
    password: one argon2 check each (`verify_password` checks a dummy hash when there is
    none). A hash made with other
    argon2 parameters than the app's is remade, so every check costs the same."""
    row = db.execute(select(User, may_sign_in())
                     .where(User.email == email.strip().lower())).first()
    user, allowed = row if row else (None, False)
    if not verify_password(user.password_hash if user else None, password) or not allowed:
        return None
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.add(user)
    return user


def start_session(db, user: User) -> None:
    """Sign `user` in with a fresh server-side session (the browser's old one is dropped)."""
    session.clear()
    session_id = secrets.token_urlsafe(32)
    db.add(UserSession(user_id=user.id, token_hash=hash_token(session_id)))
    user.last_login_at = utcnow()
    db.add(user)
    db.flush()
    session.permanent = True
    login_user(SignedIn(user, session_id))


def end_session(session_id: str | None) -> None:
    """End the server-side session and clear the cookie's contents."""
    if session_id:
        with session_scope(get_engine()) as db:
            db.execute(update(UserSession).where(UserSession.token_hash == hash_token(session_id))
                       .values(ended_at=utcnow()))
    logout_user()
    session.clear()


def safe_next(target: str | None, default: str) -> str:
    """A `next` URL only if it stays on this site: a path, never a scheme or host. One
    with a control character (CR, LF, tab...) gives `default`: it cannot go into a header,
    and browsers drop tabs and line breaks from an address, so "/<tab>/evil.example"
    would lead to //evil.example."""
    if not target or len(target) > 500 or not is_single_line(target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "users.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.session_protection = None  # the server-side session does this job
    # Flask's own default (31 days) is always present, so it is set here, not defaulted.
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=app.config["SESSION_LIFETIME_HOURS"])
    # CSRF tokens live as long as the session they belong to.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
