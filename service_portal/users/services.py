"""Writing users and tokens: accounts, passwords (argon2id) and API tokens."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import Session, select

from .. import fields
from ..errors import Invalid, NotFound
from ..security import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    hash_token,
    new_token,
)
from ..shops.models import Organization
from .models import ROLES, ApiToken, User


def check_password_rules(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(_("A password has %(min)s to %(max)s characters.",
                        min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH), field="password")


def create_user(session: Session, *, email: str, role: str, organization: str | None = None,
                name: str = "", password: str | None = None) -> User:
    """Add a user. Dealers need an organisation; the email must be new."""
    try:
        address = fields.email(email).lower()
    except ValueError as exc:
        raise Invalid(str(exc), field="email") from None
    if role not in ROLES:
        raise Invalid(_("Unknown role: %(value)s", value=role), field="role")
    org_id = None
    if organization:
        org_id = session.exec(select(Organization.id)
                              .where(Organization.slug == organization)).first()
        if org_id is None:
            raise Invalid(_("Unknown organisation: %(value)s", value=organization), field="org")
    if role == "dealer" and org_id is None:
        raise Invalid(_("A dealer belongs to an organisation."), field="org")
    if session.exec(select(User.id).where(User.email == address)).first() is not None:
        raise Invalid(_("A user with this email exists already."), code="duplicate",
                      field="email")
    user = User(email=address, role=role, organization_id=org_id, name=name)
    if password is not None:
        check_password_rules(password)
        user.password_hash = hash_password(password)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    check_password_rules(password)
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()


def issue_token(session: Session, *, email: str, name: str = "cli") -> str:
    """Create an API token for the user and return it; only its hash is stored."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.active:
        raise NotFound(_("No active user with this email."), field="email")
    token = new_token()
    session.add(ApiToken(user_id=user.id, name=name[:100], token_hash=hash_token(token),
                         prefix=token[:12]))
    session.flush()
    return token


def issue_token_for(session: Session, user: User, name: str) -> str:
    """A new named token for `user`; the caller shows it once, only its hash is kept."""
    token = new_token()
    session.add(ApiToken(user_id=user.id, name=name.strip()[:100] or "token",
                         token_hash=hash_token(token), prefix=token[:12]))
    session.flush()
    return token


def revoke_token(session: Session, user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False when it is not theirs or already revoked."""
    from ..db import utcnow

    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.add(token)
    session.flush()
    return True
