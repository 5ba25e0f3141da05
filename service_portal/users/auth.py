"""Signing in with a browser: server-side sessions under Flask-Login.

The session cookie (signed, HttpOnly, SameSite=Lax, Secure outside the local demo) holds
only a random session id whose SHA-256 names a `user_sessions` row. Signing in makes a
new id (so an id planted before login is worthless); signing out or idling ends the row,
so a cookie saved earlier is refused afterwards.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, session
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, login_user, logout_user
from sqlalchemy import select, update

from ..db import get_engine, session_scope, utcnow
from ..security import hash_token, verify_password
from .models import User, UserSession

STAFF_IDLE = timedelta(minutes=30)
DEALER_IDLE = timedelta(hours=8)
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
    return STAFF_IDLE if role in ("staff", "admin") else DEALER_IDLE


@login_manager.user_loader
def _load(session_id: str) -> SignedIn | None:
    """The user of a live session; an ended or idle one signs the browser out."""
    with session_scope(get_engine(), write=False) as db:
        row = db.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                         .where(UserSession.token_hash == hash_token(session_id),
                                UserSession.ended_at.is_(None),
                                User.active.is_(True))).first()
    if row is None:
        return None
    user_session, user = row
    now = utcnow()
    if now - user_session.last_seen_at > idle_limit(user.role):
        end_session(session_id)
        return None
    if now - user_session.last_seen_at > TOUCH_EVERY:
        with session_scope(get_engine()) as db:
            db.execute(update(UserSession).where(UserSession.id == user_session.id)
                       .values(last_seen_at=now))
    return SignedIn(user, session_id)


def authenticate(db, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same answer either way)."""
    user = db.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.active:
        verify_password(None, password)
        return None
    return user if verify_password(user.password_hash, password) else None


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
    """A `next` URL only if it stays on this site: a path, never a scheme or host."""
    if not target or len(target) > 500:
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
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", DEALER_IDLE)
    # CSRF tokens live as long as the session they belong to.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
