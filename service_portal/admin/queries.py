"""Reads for the admin area: the user, organisation and shop lists with their search,
sorting and paging, and the pages of one organisation or shop."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlmodel import Session

from ..shops.models import Organization, Shop
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


# --- Organisations and shops -------------------------------------------------------------

def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards taken literally."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_SHOP_COUNT = (select(func.count()).select_from(Shop).where(Shop.organization_id == Organization.id)
               .correlate(Organization).scalar_subquery())
#: The columns an organisation list can be sorted by, and what each sorts on.
ORGANIZATION_SORTS = {
    "name": func.lower(Organization.name),
    "country": Organization.country,
    "shops": _SHOP_COUNT,
    "created": Organization.created_at,
}


@dataclass(frozen=True)
class OrganizationRow:
    organization: Organization
    shops: int


def list_organizations(session: Session, *, text: str = "", active: bool | None = None,
                       country: str | None = None, sort: str = "name",
                       descending: bool = False, offset: int = 0,
                       limit: int = 50) -> tuple[int, list[OrganizationRow]]:
    """Organisations whose name or slug contains `text` (any case), of `country`, active
    or not, sorted by one of `ORGANIZATION_SORTS` (ties by slug), with how many shops
    each runs. Returns (total, one page of rows)."""
    query = select(Organization, _SHOP_COUNT)
    if text:
        pattern = _like(text)
        query = query.where(or_(func.lower(Organization.name).like(pattern, escape="\\"),
                                Organization.slug.like(pattern, escape="\\")))
    if active is not None:
        query = query.where(Organization.active.is_(active))
    if country:
        query = query.where(Organization.country == country)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    column = ORGANIZATION_SORTS[sort]
    order = column.desc().nulls_last() if descending else column.asc().nulls_last()
    rows = session.execute(query.order_by(order, Organization.slug)
                           .offset(offset).limit(limit)).all()
    return total, [OrganizationRow(org, shops) for org, shops in rows]


def organization_countries(session: Session) -> list[str]:
    """The countries some organisation is in, for the list's filter."""
    return list(session.scalars(select(Organization.country).distinct()
                                .where(Organization.country.is_not(None))
                                .order_by(Organization.country)))


def organization_members(session: Session, organization_id: int) -> tuple[list[Shop],
                                                                          list[User]]:
    """The organisation's shops (by name) and its people (by email)."""
    shops = session.scalars(select(Shop).where(Shop.organization_id == organization_id)
                            .order_by(func.lower(Shop.name), Shop.id)).all()
    users = session.scalars(select(User).where(User.organization_id == organization_id)
                            .order_by(User.email)).all()
    return list(shops), list(users)


#: The columns a shop list can be sorted by, and what each sorts on.
SHOP_SORTS = {
    "name": func.lower(Shop.name),
    "external_id": Shop.external_id,
    "city": func.lower(Shop.city),
    "country": Shop.country,
    "organisation": func.lower(Organization.name),
    "created": Shop.created_at,
}


@dataclass(frozen=True)
class ShopRow:
    shop: Shop
    organization: Organization


def list_shops(session: Session, *, text: str = "", organization_id: int | None = None,
               country: str | None = None, active: bool | None = None, sort: str = "name",
               descending: bool = False, offset: int = 0,
               limit: int = 50) -> tuple[int, list[ShopRow]]:
    """Shops whose name, external id or city contains `text` (any case), of an
    organisation and a country, active on their own or not, sorted by one of
    `SHOP_SORTS` (ties by id), with their organisation. Returns (total, one page)."""
    query = select(Shop, Organization).join(Organization,
                                            Organization.id == Shop.organization_id)
    if text:
        pattern = _like(text)
        query = query.where(or_(func.lower(Shop.name).like(pattern, escape="\\"),
                                func.lower(Shop.external_id).like(pattern, escape="\\"),
                                func.lower(Shop.city).like(pattern, escape="\\")))
    if organization_id is not None:
        query = query.where(Shop.organization_id == organization_id)
    if country:
        query = query.where(Shop.country == country)
    if active is not None:
        query = query.where(Shop.active.is_(active))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    column = SHOP_SORTS[sort]
    order = column.desc().nulls_last() if descending else column.asc().nulls_last()
    rows = session.execute(query.order_by(order, Shop.id).offset(offset).limit(limit)).all()
    return total, [ShopRow(shop, org) for shop, org in rows]


def shop_countries(session: Session) -> list[str]:
    """The countries some shop is in, for the list's filter."""
    return list(session.scalars(select(Shop.country).distinct().order_by(Shop.country)))


def organization_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every organisation, by name, for a select."""
    return [(org_id, name) for org_id, name in session.execute(
        select(Organization.id, Organization.name).order_by(func.lower(Organization.name),
                                                            Organization.id))]


@dataclass(frozen=True)
class ShopDetails:
    shop: Shop
    organization: Organization
    brands: list[tuple[str, str]]  # (brand slug, level)
    services: list[str]
    languages: list[str]
    stock_lines: int
    cases: int
    credentials: int
    siblings: list[Shop]  # the organisation's other shops (merge targets)


def shop_details(session: Session, shop_id: int) -> ShopDetails | None:
    """One shop with its organisation, offer, how much hangs on it and its organisation's
    other shops; None when unknown."""
    from ..cases.models import Case
    from ..catalog.models import Brand
    from ..credentials.models import Credential
    from ..parts.models import Stock
    from ..shops.models import ShopBrand
    from ..shops.services import shop_links

    shop = session.get(Shop, shop_id)
    if shop is None:
        return None
    org = session.get(Organization, shop.organization_id)
    brands = session.execute(select(Brand.slug, ShopBrand.level)
                             .join(ShopBrand, ShopBrand.brand_id == Brand.id)
                             .where(ShopBrand.shop_id == shop_id).order_by(Brand.slug)).all()
    links = shop_links(session, shop_id)

    def count(model) -> int:
        return session.scalar(select(func.count()).select_from(model)
                              .where(model.shop_id == shop_id)) or 0

    siblings = session.scalars(select(Shop).where(Shop.organization_id == shop.organization_id,
                                                  Shop.id != shop_id)
                               .order_by(func.lower(Shop.name), Shop.id)).all()
    return ShopDetails(shop, org, [tuple(b) for b in brands], links["services"],
                       links["languages"], count(Stock), count(Case), count(Credential),
                       list(siblings))
