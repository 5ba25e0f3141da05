"""An operator's writes to organisations and shops: create, rename, deactivate and
reactivate, add a shop, merge a duplicate shop. Each is audited here, with the actor.

Deactivating an organisation leaves its shops' own `active` flags as they are: owners see
a shop while it and its organisation are active (`queries.listed_shop`, read the same way
by the search index), so reactivating brings back exactly the shops that were active
before, and a shop deactivated on its own stays so. The organisation's shops are
restamped in the search's change feed in the same transaction, so every process's index
drops (or restores) them before its next search. Its people can no longer sign in or use
their tokens (`users.queries.may_sign_in`), and their open sessions end.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from .. import fields
from ..audit.actors import Actor
from ..audit.services import record
from ..db import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..tabular import Table
from ..users.models import User, UserSession
from .models import Organization, Shop
from .services import import_shops


def _stale(kind: str) -> Conflict:
    """A versioned edit that lost the race (a 409 page saying so)."""
    message = (_("This organisation was changed by someone else meanwhile; nothing was "
                 "saved. Reload its page and try again.") if kind == "organization" else
               _("This shop was changed by someone else meanwhile; nothing was saved. "
                 "Reload its page and try again."))
    return Conflict(message, field="version")


def organization_or_404(session: Session, organization_id: int) -> Organization:
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound()
    return org


def shop_or_404(session: Session, shop_id: int) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise NotFound()
    return shop


def _name(value: str) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid(_("This value is required."), field="name")
    if len(text) > 200:
        raise Invalid(_("At most %(limit)s characters.", limit=200), field="name")
    try:
        return fields.single_line_text(text)
    except ValueError as exc:
        raise Invalid(str(exc), field="name") from None


def create_organization(session: Session, *, name: str, slug: str | None,
                        country: str | None, actor: Actor) -> Organization:
    """A new active organisation. Without a slug, one is made from the name
    (`fields.slug_from`); a slug already taken, or none to be made, is a 422 on `slug`."""
    name = _name(name)
    raw = (slug or "").strip() or fields.slug_from(name)
    if not raw:
        raise Invalid(_("The name has no letters a slug can be made of; type one."),
                      field="slug")
    try:
        slug = fields.slug(raw)
    except ValueError as exc:
        raise Invalid(str(exc), field="slug") from None
    if country:
        try:
            country = fields.country(country)
        except ValueError as exc:
            raise Invalid(str(exc), field="country") from None
    taken = _("The slug %(slug)s is taken by another organisation; choose another.", slug=slug)
    if session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None:
        raise Invalid(taken, code="duplicate_slug", field="slug")
    org = Organization(slug=slug, name=name, country=country or None)
    try:
        with session.begin_nested():  # a concurrent create of the same slug: the same 422
            session.add(org)
            session.flush()
    except IntegrityError:
        raise Invalid(taken, code="duplicate_slug", field="slug") from None
    record(session, actor=actor, action="organization.create", entity_type="organization",
           entity_id=org.id, after={"slug": slug, "name": name, "country": org.country})
    return org


def rename_organization(session: Session, organization_id: int, *, name: str, version: int,
                        actor: Actor) -> Organization:
    """Give the organisation a new name if it is still at `version` (409 otherwise). Its
    slug stays: it is how imports and links name the organisation."""
    org = organization_or_404(session, organization_id)
    name = _name(name)
    before = org.name
    _versioned(session, Organization, organization_id, version, "organization", name=name)
    record(session, actor=actor, action="organization.rename", entity_type="organization",
           entity_id=organization_id, before={"name": before}, after={"name": name})
    session.refresh(org)
    return org


def set_organization_active(session: Session, organization_id: int, *, active: bool,
                            version: int, actor: Actor) -> dict[str, int]:
    """Deactivate or reactivate the organisation if it is still at `version` (409
    otherwise); see the module's docstring for what that does to its shops and people.
    Returns {"shops": its shops that are active on their own, "sessions_ended"}."""
    org = organization_or_404(session, organization_id)
    before = org.active
    _versioned(session, Organization, organization_id, version, "organization",
               active=active)
    # Restamp the shops: a write to a shop row is what the change feed's triggers stamp
    # (migrations 0005 and 0008), and `search_seq = search_seq` changes nothing else.
    session.execute(text("UPDATE shops SET search_seq = search_seq "
                         "WHERE organization_id = :organization"),
                    {"organization": organization_id})
    ended = 0
    if not active:
        ended = session.execute(
            update(UserSession)
            .where(UserSession.user_id.in_(select(User.id)
                                           .where(User.organization_id == organization_id)),
                   UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount or 0
    shops = session.scalar(select(func.count()).select_from(Shop).where(
        Shop.organization_id == organization_id, Shop.active.is_(True))) or 0
    record(session, actor=actor,
           action="organization.activate" if active else "organization.deactivate",
           entity_type="organization", entity_id=organization_id,
           before={"active": before},
           after={"active": active, "shops": shops, "sessions_ended": ended})
    session.refresh(org)
    return {"shops": shops, "sessions_ended": ended}


def create_shop(session: Session, organization_id: int, row: dict[str, str], *,
                actor: Actor) -> Shop:
    """A new shop of the organisation from the columns of the shops CSV (CONTRACT
    section 3), checked and written by the import itself (`services.import_shops`), so a
    form and a file follow one rule. An external id already in use is a 422, never an
    update of that shop; bad fields raise `ImportFailed` with one error per field."""
    org = organization_or_404(session, organization_id)
    external_id = (row.get("external_id") or "").strip()
    if external_id and session.scalar(
            select(Shop.id).where(Shop.external_id == external_id)) is not None:
        raise Invalid(_("Another shop has the external id %(value)s.", value=external_id),
                      code="duplicate_external_id", field="external_id")
    values = {**row, "organization": org.slug}
    import_shops(session, Table(list(values), iter([(2, values)])))
    shop = session.scalars(select(Shop).where(Shop.external_id == external_id)).one()
    record(session, actor=actor, action="shop.create", entity_type="shop", entity_id=shop.id,
           after={"external_id": shop.external_id, "name": shop.name,
                  "organization": org.slug, "city": shop.city, "country": shop.country})
    return shop


def set_shop_active(session: Session, shop_id: int, *, active: bool, version: int,
                    actor: Actor) -> Shop:
    """Put the shop in the owner search or take it out, if it is still at `version` (409
    otherwise). The write stamps the shop in the search's change feed."""
    shop = shop_or_404(session, shop_id)
    before = shop.active
    _versioned(session, Shop, shop_id, version, "shop", active=active, updated_at=utcnow())
    record(session, actor=actor, action="shop.activate" if active else "shop.deactivate",
           entity_type="shop", entity_id=shop_id, before={"active": before},
           after={"active": active})
    session.refresh(shop)
    return shop


def merge_shops(session: Session, *, duplicate_id: int, kept_id: int, version: int,
                actor: Actor) -> dict[str, int]:
    """Fold the duplicate shop into the kept one, both of one organisation: its stock
    (`parts.merge.merge_stock`: for a part both hold, the kept shop's line stays), its
    cases (`cases.merge.move_cases`) and its credential evidence move to the kept shop,
    and the duplicate is deactivated (if still at `version`, else 409), which takes it
    out of the search at once. All in the caller's transaction, audited once
    (`shop.merge`, on the duplicate) with the counts; the stock and case histories record
    each line and case. Returns the counts."""
    from ..cases.merge import move_cases
    from ..credentials.models import Credential
    from ..parts.merge import merge_stock

    duplicate = shop_or_404(session, duplicate_id)
    kept = session.get(Shop, kept_id)
    if kept is None:
        raise Invalid(_("Choose the shop to keep."), field="kept")
    if kept.id == duplicate.id:
        raise Invalid(_("A shop cannot be merged into itself."), field="kept")
    if kept.organization_id != duplicate.organization_id:
        raise Invalid(_("Only shops of the same organisation can be merged."), field="kept")
    _versioned(session, Shop, duplicate_id, version, "shop", active=False,
               updated_at=utcnow())
    stock = merge_stock(session, from_shop_id=duplicate_id, to_shop_id=kept_id, actor=actor)
    cases = move_cases(session, from_shop_id=duplicate_id, to_shop_id=kept_id, actor=actor)
    credentials = session.execute(
        update(Credential).where(Credential.shop_id == duplicate_id)
        .values(shop_id=kept_id, version=Credential.version + 1)
        .execution_options(synchronize_session=False)).rowcount or 0
    counts = {"stock_moved": stock["moved"], "stock_dropped": stock["dropped"],
              "cases": cases, "credentials": credentials}
    record(session, actor=actor, action="shop.merge", entity_type="shop",
           entity_id=duplicate_id,
           before={"active": duplicate.active},
           after={"active": False, "merged_into": kept_id,
                  "merged_into_external_id": kept.external_id, **counts})
    session.expire_all()
    return counts


def _versioned(session: Session, model, row_id: int, version: int, kind: str,
               **values) -> None:
    """Write `values` and raise the version, only if the row is still at `version`."""
    result = session.execute(update(model).where(model.id == row_id, model.version == version)
                             .values(**values, version=model.version + 1)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise _stale(kind)
