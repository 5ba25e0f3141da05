"""Reads about users: who a bearer token belongs to, how long a sign-in must wait."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlmodel import Session

from ..security import hash_token
from ..shops.models import Organization
from .models import ApiToken, LoginFailure, User
from .throttle import account_key, seconds_to_wait

#: A token's `last_used_at` is written at most this often, so a busy client does not
#: write on every request.
TOKEN_USE_EVERY = timedelta(minutes=1)


def may_sign_in() -> ColumnElement[bool]:
    """Whether a user may sign in, keep a session and use API tokens: their account is
    active and so is their organisation, if they have one (the one rule)."""
    return and_(User.active.is_(True),
                or_(User.organization_id.is_(None),
                    exists().where(Organization.id == User.organization_id,
                                   Organization.active.is_(True))))


def user_for_token(session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The user of a valid, unrevoked token who `may_sign_in`; None otherwise."""
    if len(token) > 200:
        return None
    row = session.execute(
        select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None),
               may_sign_in())).first()
    return (row[0], row[1]) if row else None


def token_use_due(token: ApiToken, *, now: datetime) -> bool:
    """Whether this use of `token` should be written (none noted in `TOKEN_USE_EVERY`)."""
    return token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_EVERY


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def login_wait(session: Session, email: str, *, now: datetime, free: int, cap: int) -> int:
    """Seconds before a sign-in with `email` may be checked (0: now); see `throttle`."""
    row = session.get(LoginFailure, account_key(email))
    if row is None:
        return 0
    return seconds_to_wait(row.failures, row.last_failed_at, now, free=free, cap=cap)
