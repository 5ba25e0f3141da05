"""Reads about users: who a bearer token belongs to."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from ..security import hash_token
from .models import ApiToken, User


def user_for_token(session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The active user of a valid, unrevoked token; None otherwise."""
    if len(token) > 200:
        return None
    row = session.execute(
        select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None),
               User.active.is_(True))).first()
    return (row[0], row[1]) if row else None
