"""Writing cases: opening, changing under the rules of CONTRACT section 6, notes, erasure.

Every change is one version-checked `UPDATE ... WHERE version = :seen` (409 when someone
else changed the case first) plus one immutable event holding who, when, what, before and
after. Events never hold personal data, so erasure only blanks note bodies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, insert, update
from sqlmodel import Session, select

from ..audit.actors import Actor
from ..audit.services import record
from ..bulletins.models import Bulletin
from ..catalog.models import Brand, Service, VehicleModel
from ..catalog.queries import decode_known_vin, vin_mismatch
from ..db import utcnow
from ..errors import Conflict, Invalid
from ..fields import phone_e164
from ..markets.queries import calendar_for
from ..notifications import outbox
from ..notifications.models import Notification
from ..shops.models import Shop
from ..shops.queries import listed_shop
from ..users.models import User
from ..vocabulary import CASE_STATUSES, label
from . import workflow
from .models import Case, CaseBulletin, CaseEvent
from .queries import owner_export
from .schemas import CasePatch, CaseRequest, NoteIn


def open_case(session: Session, data: CaseRequest, *, hours: Mapping[str, int],
              place: tuple[str, float, float] | None = None, locale: str = "en",
              now: datetime | None = None, reference: str | None = None,
              notify: bool = True) -> Case:
    """Open a case in `new` at normal priority with its SLA clock started. The vehicle comes
    from the VIN (where it decodes) or the model; an unknown service, model or shop, a VIN
    that is not one, or a phone that is not valid for the country is a 422. `reference`
    is for replaying the demo data only; otherwise a new unguessable one is drawn. With
    `notify`, the owner's confirmation and staff's alerts go into the outbox."""
    now = now or utcnow()
    service_id = session.scalar(select(Service.id).where(Service.slug == data.service))
    if service_id is None:
        raise Invalid(_("Unknown service: %(value)s", value=data.service[:40]),
                      code="unknown_service", field="service")
    brand_id, model_id, year, vin = _vehicle(session, data)
    if data.shop_id is not None and not session.scalar(
            select(Shop.id).where(Shop.id == data.shop_id, listed_shop())):
        raise Invalid(_("There is no shop %(id)s.", id=data.shop_id), code="unknown_shop",
                      field="shop_id")
    phone = None
    if data.phone:
        try:
            phone = phone_e164(data.phone, data.country)
        except ValueError as exc:
            raise Invalid(str(exc), code="invalid_phone", field="phone") from None
    calendar = calendar_for(session, data.country)  # its market's support hours, if any
    case = Case(reference=reference or _unused_reference(session, now.year), status="new",
                priority="normal", owner_name=data.name, owner_email=data.email,
                owner_phone=phone, vin=vin, brand_id=brand_id, model_id=model_id,
                model_year=year, country=data.country, service_id=service_id,
                description=data.description, shop_id=data.shop_id,
                locale=data.locale or locale, consent_at=now,
                sla_due=workflow.sla_due(now, "normal", hours, calendar),
                created_at=now, updated_at=now,
                place=place[0] if place else None, lat=place[1] if place else None,
                lon=place[2] if place else None)
    session.add(case)
    session.flush()
    _event(session, case.id, actor=Actor.owner(), kind="opened", at=now,
           after={"status": "new", "priority": "normal", "shop_id": data.shop_id,
                  "service": data.service})
    if notify:
        outbox.case_opened(session, case)
    return case


def change_case(session: Session, case: Case, patch: CasePatch, *, actor: Actor,
                hours: Mapping[str, int],
                allowed_targets: frozenset[str] | None = None,
                now: datetime | None = None, notify: bool = True) -> dict[str, Any]:
    """Apply a staff (or, with `allowed_targets`, a shop's) change to `case`, seen at
    `patch.version`. Returns the changed fields' after-values (empty when nothing changed).

    A move CONTRACT section 6 does not allow is a 422 `invalid_transition`; `assigned`
    needs a shop; a stale version is a 409 and nothing is written."""
    now = now or utcnow()
    if patch.version != case.version:
        raise Conflict()
    given = patch.model_fields_set
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    values: dict[str, Any] = {}

    def change(name: str, old: Any, new: Any, **columns: Any) -> None:
        if old != new:
            before[name], after[name] = old, new
            values.update(columns)

    if "shop_id" in given and patch.shop_id != case.shop_id:
        if patch.shop_id is not None and not session.scalar(
                select(Shop.id).where(Shop.id == patch.shop_id, listed_shop())):
            raise Invalid(_("There is no shop %(id)s.", id=patch.shop_id),
                          code="unknown_shop", field="shop_id")
        change("shop_id", case.shop_id, patch.shop_id, shop_id=patch.shop_id)
    if "assignee" in given:
        assignee_id = _staff_id(session, patch.assignee) if patch.assignee else None
        if assignee_id != case.assignee_id:
            old = session.scalar(select(User.email).where(User.id == case.assignee_id)) \
                if case.assignee_id else None
            change("assignee", old, patch.assignee or None, assignee_id=assignee_id)
    due, paused_at = case.sla_due, case.sla_paused_at
    # The market's support hours (wall-clock time where the country has no market).
    calendar = calendar_for(session, case.country) if (
        patch.priority or patch.status) else None
    if patch.priority and patch.priority != case.priority:
        due = workflow.sla_after_priority(due, case.priority, patch.priority, hours, calendar)
        change("priority", case.priority, patch.priority, priority=patch.priority)
    if patch.status and patch.status != case.status:
        _check_move(case.status, patch.status, allowed_targets)
        shop_id = values.get("shop_id", case.shop_id)
        if patch.status == "assigned" and shop_id is None:
            raise Invalid(_("Choose the shop before assigning the case."),
                          code="shop_required", field="shop_id")
        due, paused_at = workflow.sla_after_move(
            status=case.status, target=patch.status, due=due, paused_at=paused_at, now=now,
            priority=patch.priority or case.priority, hours=hours, calendar=calendar)
        change("status", case.status, patch.status, status=patch.status)
        if patch.status == "resolved":
            values["resolved_at"] = now
        elif patch.status == "closed":
            values["closed_at"] = now
        elif patch.status == "reopened":
            values.update(resolved_at=None, closed_at=None)
    if due != case.sla_due or paused_at != case.sla_paused_at:
        before["sla_due"] = _iso(case.sla_due)
        after["sla_due"] = _iso(due)
        values.update(sla_due=due, sla_paused_at=paused_at)
    if patch.bulletin_codes is not None:
        _link_bulletins(session, case, patch.bulletin_codes, before, after)
    if not after:
        return {}
    _versioned_update(session, case, {**values, "updated_at": now})
    _event(session, case.id, actor=actor, kind="changed",
           at=now, before=before, after=after)
    if notify:
        outbox.case_changed(session, case, before, after, actor_id=actor.user_id)
    return after


def add_note(session: Session, case: Case, note: NoteIn, *, actor: Actor,
             now: datetime | None = None, notify: bool = True) -> CaseEvent:
    """Append a note. Notes never conflict (they change no state); the case's version still
    moves on, atomically, so a form opened before the note knows the case changed."""
    now = now or utcnow()
    session.execute(update(Case).where(Case.id == case.id)
                    .values(updated_at=now, version=Case.version + 1)
                    .execution_options(synchronize_session=False))
    session.expire(case)
    event = _event(session, case.id, actor=actor, kind="note",
                   at=now, body=note.body, internal=note.internal)
    if notify and not note.internal:
        author = session.get(User, actor.user_id) if actor.user_id else None
        outbox.public_note(session, case, note.body,
                           from_shop=author is not None and author.role == "dealer")
    return event


def record_case_view(session: Session, case: Case, *, actor: Actor) -> None:
    """Staff or a dealer opening a case read personal data: that goes into the audit log."""
    record(session, actor=actor, action="case.view",
           entity_type="case", entity_id=case.reference)


def export_owner(session: Session, email: str, *, actor: Actor,
                 now: datetime | None = None) -> dict[str, Any]:
    """Everything held on the owner of `email` (`queries.owner_export`), audited with the
    case references, never the address."""
    data = owner_export(session, email, now=now or utcnow())
    data.update(outbox.held_on(session, email))
    record(session, actor=actor, action="privacy.export",
           entity_type="owner",
           entity_id=",".join(c["reference"] for c in data["cases"])[:80] or "none")
    return data


def erase_owner(session: Session, email: str, *, actor: Actor,
                now: datetime | None = None) -> list[str]:
    """Remove the personal data of every case of `email`: owner fields, VIN, description,
    place and note bodies. Status, vehicle, country, service and times stay for anonymous
    statistics; the erasure is audited with the references. Returns the references
    touched (an erased case no longer matches)."""
    now = now or utcnow()
    cases = session.exec(select(Case).where(Case.owner_email == email)).all()
    references = erase_cases(session, cases, actor=actor, now=now)
    outbox.forget(session, email)
    record(session, actor=actor, action="privacy.erase",
           entity_type="owner", entity_id=",".join(references)[:80] or "none",
           after={"cases": references})
    return references


def erase_cases(session: Session, cases: Sequence[Case], *, actor: Actor,
                now: datetime) -> list[str]:
    """The erasure of each of `cases`: owner fields, VIN, description, place, note bodies
    and the emails sent to the owner about it go; an `erased` event says when. The caller
    writes the audit entry (one per request or run). Returns the references."""
    for case in cases:
        if case.owner_email:
            session.execute(delete(Notification).where(
                Notification.case_id == case.id, Notification.recipient == case.owner_email))
        session.execute(update(Case).where(Case.id == case.id).values(
            owner_name=None, owner_email=None, owner_phone=None, vin=None, description=None,
            place=None, lat=None, lon=None, erased_at=now, updated_at=now,
            version=Case.version + 1))
        session.execute(update(CaseEvent).where(CaseEvent.case_id == case.id,
                                                CaseEvent.body.is_not(None)).values(body=None))
        _event(session, case.id, actor=actor, kind="erased",
               at=now)
    return [case.reference for case in cases]


def _vehicle(session: Session, data: CaseRequest) -> tuple[int | None, int | None,
                                                             int | None, str | None]:
    brand_slug = model_slug = vin = None
    year = data.year
    if data.vin:
        info = decode_known_vin(session, data.vin)
        vin, brand_slug, model_slug = info.vin, info.brand, info.model
        year = year or info.model_year
    if data.model:
        row = session.exec(select(VehicleModel.id, VehicleModel.brand_id, Brand.slug)
                           .join(Brand, Brand.id == VehicleModel.brand_id)
                           .where(VehicleModel.slug == data.model)).first()
        if row is None:
            raise Invalid(_("Unknown model: %(value)s", value=data.model[:80]),
                          code="unknown_model", field="model")
        if brand_slug and brand_slug != row.slug:
            raise vin_mismatch("model")
        return row.brand_id, row.id, year, vin
    if not vin:
        raise Invalid(_("Say which car: a VIN or a model."), code="missing_vehicle",
                      field="vin")
    brand_id = session.scalar(select(Brand.id).where(Brand.slug == brand_slug)) \
        if brand_slug else None
    model_id = session.scalar(select(VehicleModel.id).where(VehicleModel.slug == model_slug)) \
        if model_slug else None
    return brand_id, model_id, year, vin


def _unused_reference(session: Session, year: int) -> str:
    while True:  # 40 random bits: a repeat is astronomically rare, but never reused
        reference = workflow.new_reference(year)
        if not session.scalar(select(Case.id).where(Case.reference == reference)):
            return reference


def _staff_id(session: Session, email: str) -> int:
    user_id = session.scalar(select(User.id).where(User.email == email.strip().lower(),
                                                   User.role.in_(("staff", "admin"))))
    if user_id is None:
        raise Invalid(_("No staff member has the address %(value)s.", value=email[:254]),
                      code="unknown_assignee", field="assignee")
    return user_id


def _check_move(current: str, target: str, allowed_targets: frozenset[str] | None) -> None:
    if not workflow.can_move(current, target) or (
            allowed_targets is not None and target not in allowed_targets):
        raise Invalid(_("A case cannot move from %(current)s to %(target)s.",
                        current=label(CASE_STATUSES, current),
                        target=label(CASE_STATUSES, target)),
                      code="invalid_transition", field="status")


def _link_bulletins(session: Session, case: Case, codes: list[str],
                    before: dict[str, Any], after: dict[str, Any]) -> None:
    wanted = sorted({code.upper() for code in codes})
    found = dict(session.exec(select(Bulletin.code, Bulletin.id)
                              .where(Bulletin.code.in_(wanted))).all()) if wanted else {}
    unknown = [code for code in wanted if code not in found]
    if unknown:
        raise Invalid(_("Unknown bulletin: %(value)s", value=", ".join(unknown)[:200]),
                      code="unknown_bulletin", field="bulletin_codes")
    current = sorted(session.exec(select(Bulletin.code).join(
        CaseBulletin, CaseBulletin.bulletin_id == Bulletin.id)
        .where(CaseBulletin.case_id == case.id)).all())
    if current == wanted:
        return
    session.execute(delete(CaseBulletin).where(CaseBulletin.case_id == case.id))
    if wanted:
        session.execute(insert(CaseBulletin), [{"case_id": case.id, "bulletin_id": found[c]}
                                                for c in wanted])
    before["bulletin_codes"], after["bulletin_codes"] = current, wanted


def _versioned_update(session: Session, case: Case, values: dict[str, Any]) -> None:
    result = session.execute(update(Case).where(Case.id == case.id,
                                                Case.version == case.version)
                             .values(**values, version=Case.version + 1)
                             .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict()
    session.expire(case)


def _event(session: Session, case_id: int, *, actor: Actor, kind: str, at: datetime,
           before: dict | None = None, after: dict | None = None, body: str | None = None,
           internal: bool = False) -> CaseEvent:
    event = CaseEvent(case_id=case_id, at=at, actor_id=actor.user_id, actor_label=actor.label,
                      kind=kind, before=before, after=after, body=body, internal=internal)
    session.add(event)
    session.flush()
    return event


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None

