"""Reads for the admin area: the user list with its search, sorting and paging."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlmodel import Session

from ..shops.models import Organization
from ..users.models import User, UserSession

#: The columns a user list can be sorted by, and what each sorts on.
USER_SORTS = {
    "email": User.email,
    "name": User.name,
    "role": User.role,
    "organisation": Organization.name,
    "created": User.created_at,
    "last_login": User.last_login_at,
}


@dataclass(frozen=True)
class UserRow:
    user: User
    organisation: str | None
    live_sessions: int


def list_users(session: Session, *, text: str = "", role: str | None = None,
               active: bool | None = None, sort: str = "email", descending: bool = False,
               offset: int = 0, limit: int = 50) -> tuple[int, list[UserRow]]:
    """Users matching `text` (in email or name, any case), `role` and `active`, sorted by
    one of `USER_SORTS` (ties by email), with their organisation's name and how many
    browser sessions they have open. Returns (total, one page of rows)."""
    live = (select(func.count()).select_from(UserSession)
            .where(UserSession.user_id == User.id, UserSession.ended_at.is_(None))
            .correlate(User).scalar_subquery())
    query = select(User, Organization.name, live).outerjoin(
        Organization, Organization.id == User.organization_id)
    if text:
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%")\
            .replace("_", "\\_") + "%"
        query = query.where(or_(User.email.like(pattern, escape="\\"),
                                func.lower(User.name).like(pattern, escape="\\")))
    if role:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active.is_(active))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    column = USER_SORTS[sort]
    order = column.desc().nulls_last() if descending else column.asc().nulls_last()
    rows = session.execute(query.order_by(order, User.email).offset(offset).limit(limit)).all()
    return total, [UserRow(user, org, count) for user, org, count in rows]


def user_details(session: Session, user_id: int) -> UserRow | None:
    """One user with their organisation's name and open sessions; None when unknown."""
    user = session.get(User, user_id)
    if user is None:
        return None
    organisation = (session.get(Organization, user.organization_id).name
                    if user.organization_id else None)
    live = session.execute(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None))).scalar_one()
    return UserRow(user, organisation, live)
