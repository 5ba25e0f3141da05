"""Links in emails that let a person set their password: an invitation (valid 72 hours)
or a reset (valid 2 hours).

A link's token is the user's id and the link's purpose, signed with the secret key
(itsdangerous, timestamped), together with a fingerprint of the user's password hash at
the time the email was written. Setting a password changes the hash, so every link of
that user stops working: each works once, and nothing needs to be stored. A disabled
account's links work no more.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from enum import Enum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session

from .models import User

VALID_FOR = {"invite": timedelta(hours=72), "reset": timedelta(hours=2)}


class LinkState(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"  # tampered, used already, or the account is disabled


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="account-link")


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.id}:{user.password_hash or ''}".encode()).hexdigest()[:16]


def link_token(secret_key: str, user: User, purpose: str) -> str:
    """A token for `user`'s link of `purpose` (`invite` or `reset`)."""
    if purpose not in VALID_FOR:
        raise ValueError(purpose)
    return _serializer(secret_key).dumps([user.id, purpose, _fingerprint(user)])


def user_for_link(session: Session, secret_key: str, token: str,
                  purpose: str) -> tuple[LinkState, User | None]:
    """Whom the link is for, if it may still be used."""
    try:
        user_id, kind, fingerprint = _serializer(secret_key).loads(
            token, max_age=int(VALID_FOR[purpose].total_seconds()))
    except SignatureExpired:
        return LinkState.EXPIRED, None
    except (BadSignature, ValueError, TypeError):
        return LinkState.INVALID, None
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if kind != purpose or user is None or not user.active or fingerprint != _fingerprint(user):
        return LinkState.INVALID, None
    return LinkState.VALID, user
