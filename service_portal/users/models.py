"""Users with a role and an organisation, and their API tokens (stored hashed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, String
from sqlmodel import Field, SQLModel

from ..db import UTCDateTime, utcnow

ROLES = ("owner", "dealer", "staff", "admin")


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'dealer', 'staff', 'admin')", name="user_role"),
        CheckConstraint("email = lower(email)", name="user_email_lower"),
        CheckConstraint("role <> 'dealer' OR organization_id IS NOT NULL",
                        name="dealer_has_organization"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(default="", max_length=200)
    role: str = Field(sa_column=Column(String(10), nullable=False))
    organization_id: int | None = Field(default=None, foreign_key="organizations.id",
                                        index=True)
    # argon2id; NULL means the account cannot sign in with a password.
    password_hash: str | None = Field(default=None, max_length=200)
    active: bool = Field(default=True)
    # An IANA zone name (Europe/Berlin) for the times this user reads; NULL means their
    # organisation's shops' zone, or the browser's.
    time_zone: str | None = Field(default=None, max_length=64)
    # The language of this user's emails (a supported locale); NULL means English.
    locale: str | None = Field(default=None, max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token. Only its SHA-256 is stored: the token itself is 256 random bits,
    so a fast hash is as safe as a slow one and lets each request verify it cheaply."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserSession(SQLModel, table=True):
    """A signed-in browser session, held on the server so that logging out (or an idle
    timeout) ends it for good: a cookie saved earlier names a row that no longer counts.
    Only the SHA-256 of the random session id is stored."""

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """Consecutive failed sign-ins with one email address, whether or not an account has
    it (see `throttle`). Keyed by the address's SHA-256: the address itself is not kept."""

    __tablename__ = "login_failures"

    account_key: str = Field(max_length=64, primary_key=True)
    failures: int = Field(default=0)
    last_failed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
