"""Writing users and tokens: accounts, passwords (argon2id), sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import case, delete, or_, update
from sqlmodel import Session, select

from .. import fields
from ..audit.actors import Actor
from ..audit.services import record
from ..db import utcnow
from ..errors import Invalid, NotFound
from ..security import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    hash_token,
    new_token,
)
from ..shops.models import Organization
from .models import ROLES, ApiToken, LoginFailure, User, UserSession
from .queries import TOKEN_USE_EVERY, user_by_email
from .throttle import FORGET_AFTER, account_key


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


def issue_token(session: Session, *, email: str, name: str = "cli", actor: Actor) -> str:
    """Create an API token for the user of `email` and return it; only its hash is
    stored. Audited (`token.create`, never the token itself)."""
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None or not user.active:
        raise NotFound(_("No active user with this email."), field="email")
    return issue_token_for(session, user, name, actor=actor)


def issue_token_for(session: Session, user: User, name: str, *, actor: Actor) -> str:
    """A new named token for `user`; the caller shows it once, only its hash is kept.
    Audited (`token.create`: whose token, its name and prefix)."""
    token = new_token()
    row = ApiToken(user_id=user.id, name=name.strip()[:100] or "token",
                   token_hash=hash_token(token), prefix=token[:12])
    session.add(row)
    session.flush()
    record(session, actor=actor, action="token.create", entity_type="token", entity_id=row.id,
           after={"user_id": user.id, "name": row.name, "prefix": row.prefix})
    return token


def revoke_token(session: Session, user: User, token_id: int, *, actor: Actor) -> bool:
    """Revoke one of the user's own tokens; False when it is not theirs or already revoked.
    Audited (`token.revoke`)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.add(token)
    session.flush()
    record(session, actor=actor, action="token.revoke", entity_type="token", entity_id=token.id,
           before={"revoked_at": None},
           after={"user_id": user.id, "name": token.name, "prefix": token.prefix,
                  "revoked_at": token.revoked_at.isoformat()})
    return True


def set_time_zone(session: Session, user: User, zone: str | None) -> None:
    """The zone `user` reads times in: an IANA name, or None for their organisation's."""
    from ..geo.timezones import is_zone

    if zone and not is_zone(zone):
        raise Invalid(_("Not a time zone: %(value)s", value=zone), code="invalid_time_zone",
                      field="time_zone")
    row = session.get(User, user.id)
    if row is None:
        raise NotFound()
    row.time_zone = zone or None
    session.add(row)
    session.flush()


def record_token_use(session: Session, token_id: int, *, now: datetime) -> None:
    """Note that the token was used at `now`, unless a use within `TOKEN_USE_EVERY` is
    noted already (checked in the UPDATE itself, so workers racing write it once)."""
    session.execute(update(ApiToken).where(
        ApiToken.id == token_id,
        or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOKEN_USE_EVERY),
    ).values(last_used_at=now))


# --- Failed sign-ins (the rule is in `throttle`) ------------------------------------------

def record_failed_login(session: Session, email: str, *, now: datetime) -> None:
    """Count one more failed sign-in with `email`, in one statement so that concurrent
    failures from several workers all count; a count whose last failure is older than
    `FORGET_AFTER` starts again at 1. Forgotten rows of other addresses are removed."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = LoginFailure.__table__
    forgotten = now - FORGET_AFTER
    session.execute(delete(LoginFailure).where(LoginFailure.last_failed_at < forgotten))
    statement = insert(table).values(account_key=account_key(email), failures=1,
                                     last_failed_at=now)
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.account_key],
        set_={"failures": case((table.c.last_failed_at < forgotten, 1),
                               else_=table.c.failures + 1),
              "last_failed_at": statement.excluded.last_failed_at}))


def clear_failed_logins(session: Session, email: str) -> None:
    """A successful sign-in forgets the address's failures."""
    session.execute(delete(LoginFailure).where(LoginFailure.account_key == account_key(email)))


# --- Accounts, by an operator (each change audited) -----------------------------------------

def _existing_user(session: Session, email: str) -> User:
    user = user_by_email(session, email)
    if user is None:
        raise NotFound(_("No user with this email."), field="email")
    return user


def _end_sessions(session: Session, user: User) -> int:
    """End every live session of `user`; the number ended."""
    result = session.execute(update(UserSession).where(UserSession.user_id == user.id,
                                                        UserSession.ended_at.is_(None))
                             .values(ended_at=utcnow()))
    return result.rowcount or 0


def change_password(session: Session, *, email: str, password: str, actor: Actor) -> int:
    """Give the user of `email` a new password. Their sessions end, so a browser signed in
    with the old password (perhaps someone else's) must sign in again. Returns how many
    sessions ended."""
    user = _existing_user(session, email)
    set_password(session, user, password)
    ended = _end_sessions(session, user)
    record(session, actor=actor, action="user.password", entity_type="user",
           entity_id=user.id, after={"sessions_ended": ended})
    return ended


def disable_user(session: Session, *, email: str, actor: Actor) -> int:
    """The user of `email` can no longer sign in; their sessions end now and their tokens
    are refused while they stay disabled. Returns how many sessions ended."""
    user = _existing_user(session, email)
    before = user.active
    user.active = False
    session.add(user)
    session.flush()
    ended = _end_sessions(session, user)
    record(session, actor=actor, action="user.disable", entity_type="user",
           entity_id=user.id, before={"active": before},
           after={"active": False, "sessions_ended": ended})
    return ended


def enable_user(session: Session, *, email: str, actor: Actor) -> None:
    """The user of `email` may sign in again (and their unrevoked tokens work again)."""
    user = _existing_user(session, email)
    before = user.active
    user.active = True
    session.add(user)
    session.flush()
    record(session, actor=actor, action="user.enable", entity_type="user",
           entity_id=user.id, before={"active": before}, after={"active": True})


def end_user_sessions(session: Session, *, email: str, actor: Actor) -> int:
    """Sign the user of `email` out everywhere: every browser session ends. Returns how
    many did."""
    user = _existing_user(session, email)
    ended = _end_sessions(session, user)
    record(session, actor=actor, action="user.sign_out", entity_type="user",
           entity_id=user.id, after={"sessions_ended": ended})
    return ended


# --- Invitations, resets and one's own password ---------------------------------------------

def invite_user(session: Session, *, email: str, role: str, organization: str | None,
                name: str, locale: str, actor: Actor) -> User:
    """Add a user without a password and email them an invitation to set one (valid 72
    hours). Audited."""
    from ..notifications.outbox import enqueue

    user = create_user(session, email=email, role=role, organization=organization, name=name)
    user.locale = locale
    session.add(user)
    enqueue(session, kind="account_invite", recipient=user.email, locale=locale,
            payload={"user_id": user.id})
    record(session, actor=actor, action="user.invite", entity_type="user", entity_id=user.id,
           after={"email": user.email, "role": role, "organization": organization})
    return user


def request_password_reset(session: Session, email: str, *, locale: str) -> None:
    """Email a reset link (valid 2 hours) if an active account has this address; do
    nothing otherwise. The caller answers the same either way."""
    from ..notifications.outbox import enqueue

    user = user_by_email(session, email)
    if user is not None and user.active:
        enqueue(session, kind="password_reset", recipient=user.email,
                locale=user.locale or locale, payload={"user_id": user.id})


def set_password_by_link(session: Session, user: User, password: str, *,
                         purpose: str) -> int:
    """The person holding a valid link sets `user`'s password; every session of theirs
    ends (and the link with the old password hash). Returns how many sessions ended."""
    set_password(session, user, password)
    ended = _end_sessions(session, user)
    record(session, actor=Actor.email_link(user),
           action="user.password", entity_type="user", entity_id=user.id,
           after={"by": purpose, "sessions_ended": ended})
    return ended


def change_own_password(session: Session, user: User, *, current: str, new: str,
                        keep_session_hash: str, actor: Actor) -> int:
    """The signed-in user changes their password, giving the current one; their other
    sessions end, this one stays. A wrong current password is a 422 on `current`."""
    from ..security import verify_password

    if not verify_password(user.password_hash, current):
        raise Invalid(_("This is not your current password."), field="current")
    set_password(session, user, new)
    result = session.execute(update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None),
        UserSession.token_hash != keep_session_hash).values(ended_at=utcnow()))
    ended = result.rowcount or 0
    record(session, actor=actor, action="user.password", entity_type="user",
           entity_id=user.id, after={"by": "user", "sessions_ended": ended})
    return ended
