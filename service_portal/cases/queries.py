"""Reading cases: the staff queue, one case for staff, shop or owner, exports, statistics."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import case as when
from sqlmodel import Session, select

from ..bulletins.models import Bulletin
from ..catalog.models import Brand, Service, VehicleModel
from ..errors import NotFound
from ..shops.models import Shop
from ..users.models import User
from .models import CASE_STATUSES, PRIORITIES, Case, CaseBulletin, CaseEvent
from .queue_params import QueueFilters
from .workflow import FINISHED, sla_breached

_SUMMARY = (Case, Brand.slug.label("brand"), VehicleModel.slug.label("model"),
            Service.slug.label("service"), Shop.name.label("shop_name"),
            Shop.city.label("shop_city"), Shop.phone.label("shop_phone"),
            Shop.timezone.label("shop_timezone"),
            User.email.label("assignee"))


def _summary_query():
    return (select(*_SUMMARY)
            .join(Service, Service.id == Case.service_id)
            .outerjoin(Brand, Brand.id == Case.brand_id)
            .outerjoin(VehicleModel, VehicleModel.id == Case.model_id)
            .outerjoin(Shop, Shop.id == Case.shop_id)
            .outerjoin(User, User.id == Case.assignee_id))


def case_by_reference(session: Session, reference: str) -> Case:
    """The case with `reference` (any case), or a 404."""
    case = session.exec(select(Case).where(Case.reference == reference.strip().upper()[:20])
                        ).first()
    if case is None:
        raise NotFound(_("There is no case %(reference)s.", reference=reference[:20]))
    return case


def owner_case(session: Session, reference: str, email: str) -> Case:
    """The case if `email` is its owner's (case-insensitive); otherwise a 404, so a wrong
    address and a wrong reference cannot be told apart."""
    case = session.exec(select(Case).where(
        Case.reference == reference.strip().upper()[:20],
        func.lower(Case.owner_email) == email.strip().lower())).first()
    if case is None:
        raise NotFound(_("No case matches this reference and email address."))
    return case


def breach_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for `workflow.sla_breached` (the queue's `breached` filter), so the filter and
    the flag each row shows agree: an open case past its due time (a paused clock read
    where it stopped), or a case resolved after it."""
    return and_(Case.sla_due.is_not(None), or_(
        and_(Case.status.not_in(FINISHED),
             Case.sla_due < func.coalesce(Case.sla_paused_at, now)),
        and_(Case.status.in_(FINISHED), Case.resolved_at.is_not(None),
             Case.resolved_at > Case.sla_due)))


#: The queue's sort keys (`queue_params.SORT_KEYS`) -> the expression each orders by.
#: Priority and status sort by their rank (urgent above low; the workflow's order), the
#: brand by its name, the country by its code.
_SORTS: dict[str, Any] = {
    "reference": Case.reference,
    "priority": when({p: i for i, p in enumerate(PRIORITIES)}, value=Case.priority),
    "status": when({s: i for i, s in enumerate(CASE_STATUSES)}, value=Case.status),
    "due": Case.sla_due,
    "created": Case.created_at,
    "brand": Brand.name,
    "country": Case.country,
}


def _order(sort: str | None) -> list[Any]:
    """ORDER BY for `sort` (`key` or `-key`); by default open cases first, by due time.
    Rows without a value (no due time, no brand) come last either way; the id breaks ties,
    so pages never overlap."""
    if not sort:
        return [Case.status.in_(FINISHED), Case.sla_due, Case.id]
    key = sort.removeprefix("-")
    column, descending = _SORTS[key], sort.startswith("-")
    # By due time, the cases still on the clock come first either way: a finished case's
    # due time is history.
    first = [Case.status.in_(FINISHED)] if key == "due" else []
    return [*first, column.is_(None), column.desc() if descending else column.asc(),
            Case.id.desc() if descending else Case.id]


def list_cases(session: Session, *, now: datetime, status: str | None = None,
               country: str | None = None, brand: str | None = None,
               model: str | None = None, shop_ids: list[int] | None = None,
               q: str | None = None, breached: bool | None = None, sort: str | None = None,
               limit: int = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """Cases matching every filter given, most urgent first (breached, then by due time)
    unless `sort` names a column. `q` matches the reference or the description,
    case-insensitively."""
    query = _summary_query()
    if status:
        query = query.where(Case.status == status)
    if country:
        query = query.where(Case.country == country)
    if brand:
        query = query.where(Brand.slug == brand)
    if model:
        query = query.where(VehicleModel.slug == model)
    if shop_ids is not None:
        query = query.where(Case.shop_id.in_(shop_ids))
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") \
            + "%"
        query = query.where(or_(func.lower(Case.reference).like(pattern, escape="\\"),
                                func.lower(Case.description).like(pattern, escape="\\")))
    if breached is not None:
        clause = breach_clause(now)
        query = query.where(clause if breached else ~clause)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(*_order(sort)).limit(limit).offset(offset)).all()
    return total, [_summary(row, now) for row in rows]


def queue_cases(session: Session, filters: QueueFilters, *, now: datetime,
                limit: int | None = None) -> tuple[int, list[dict[str, Any]]]:
    """The staff queue for checked `filters` (`queue_params`); `limit` overrides the page
    size, from the first row (the CSV export)."""
    return list_cases(session, now=now, status=filters.status, country=filters.country,
                      brand=filters.brand, model=filters.model,
                      shop_ids=[filters.shop_id] if filters.shop_id else None, q=filters.q,
                      breached=filters.breached, sort=filters.sort,
                      limit=limit or filters.limit, offset=0 if limit else filters.offset)


def overdue_count(session: Session, *, now: datetime) -> int:
    """Open cases past their due time (a paused clock read where it stopped): the work
    that is late now, whatever the queue's filters."""
    return session.scalar(select(func.count()).select_from(Case).where(
        Case.status.not_in(FINISHED), breach_clause(now)))


def queue_choices(session: Session) -> dict[str, list]:
    """What the queue's selects offer: the brands and models (slug, name, brand slug) and
    the countries that cases have, brands and models by name."""
    brands = session.exec(select(Brand.slug, Brand.name).where(
        Brand.id.in_(select(Case.brand_id).distinct())).order_by(Brand.name)).all()
    models = session.exec(select(VehicleModel.slug, VehicleModel.name, Brand.slug)
                          .join(Brand, Brand.id == VehicleModel.brand_id)
                          .where(VehicleModel.id.in_(select(Case.model_id).distinct()))
                          .order_by(Brand.name, VehicleModel.name)).all()
    countries = session.exec(select(Case.country).distinct().order_by(Case.country)).all()
    return {"brands": [tuple(row) for row in brands], "models": [tuple(row) for row in models],
            "countries": list(countries)}


def _summary(row, now: datetime) -> dict[str, Any]:
    case: Case = row[0]
    return {
        "reference": case.reference, "status": case.status, "priority": case.priority,
        "version": case.version, "sla_due": _iso(case.sla_due),
        "sla_paused": case.sla_paused_at is not None,
        "sla_breached": sla_breached(status=case.status, due=case.sla_due,
                                     paused_at=case.sla_paused_at,
                                     resolved_at=case.resolved_at, now=now),
        "brand": row.brand, "model": row.model, "model_year": case.model_year,
        "country": case.country, "service": row.service,
        "shop": {"id": case.shop_id, "name": row.shop_name, "city": row.shop_city,
                 "phone": row.shop_phone, "timezone": row.shop_timezone} if case.shop_id else None,
        "assignee": row.assignee,
        "created_at": _iso(case.created_at), "updated_at": _iso(case.updated_at),
        "resolved_at": _iso(case.resolved_at), "closed_at": _iso(case.closed_at),
    }


def case_document(session: Session, case: Case, *, now: datetime,
                  with_events: bool = True) -> dict[str, Any]:
    """Everything staff see of a case: summary, owner, vehicle, linked bulletins, events."""
    row = session.exec(_summary_query().where(Case.id == case.id)).one()
    doc = _summary(row, now)
    doc.update({
        "owner": {"name": case.owner_name, "email": case.owner_email,
                  "phone": case.owner_phone},
        "vin": case.vin, "place": case.place, "description": case.description,
        "locale": case.locale, "consent_at": _iso(case.consent_at),
        "erased_at": _iso(case.erased_at),
        "bulletin_codes": linked_bulletins(session, case.id),
    })
    if with_events:
        doc["events"] = case_events(session, case.id)
    return doc


def public_case_document(session: Session, case: Case) -> dict[str, Any]:
    """What the owner sees: status, vehicle, the assigned shop and public notes; never the
    phone, internal notes, assignee or history."""
    row = session.exec(_summary_query().where(Case.id == case.id)).one()
    notes = session.exec(select(CaseEvent.at, CaseEvent.body).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "note", CaseEvent.internal.is_(False),
        CaseEvent.body.is_not(None)).order_by(CaseEvent.at, CaseEvent.id)).all()
    return {
        "reference": case.reference, "status": case.status, "service": row.service,
        "brand": row.brand, "model": row.model, "model_year": case.model_year,
        "country": case.country,
        "shop": {"id": case.shop_id, "name": row.shop_name, "city": row.shop_city,
                 "phone": row.shop_phone, "timezone": row.shop_timezone} if case.shop_id else None,
        "created_at": _iso(case.created_at), "updated_at": _iso(case.updated_at),
        "notes": [{"at": _iso(at), "body": body} for at, body in notes],
    }


def case_events(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The history, oldest first."""
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)
                          .order_by(CaseEvent.at, CaseEvent.id)).all()
    return [{"at": _iso(e.at), "actor": e.actor_label, "kind": e.kind, "before": e.before,
             "after": e.after, "body": e.body, "internal": e.internal} for e in events]


def linked_bulletins(session: Session, case_id: int) -> list[str]:
    return list(session.exec(select(Bulletin.code).join(
        CaseBulletin, CaseBulletin.bulletin_id == Bulletin.id)
        .where(CaseBulletin.case_id == case_id).order_by(Bulletin.code)).all())


def owner_export(session: Session, email: str, *, now: datetime) -> dict[str, Any]:
    """Everything held on the owner with `email`: each case with its full history."""
    cases = session.exec(select(Case).where(Case.owner_email == email)
                         .order_by(Case.created_at)).all()
    return {"email": email, "exported_at": _iso(now),
            "cases": [case_document(session, case, now=now) for case in cases]}


#: Dashboard dimension -> (the column counted, the outer join that reaches it, if any).
_DIMENSIONS: dict[str, tuple[Any, tuple | None]] = {
    "brand": (Brand.slug, (Brand, Brand.id == Case.brand_id)),
    "model": (VehicleModel.slug, (VehicleModel, VehicleModel.id == Case.model_id)),
    "country": (Case.country, None),
    "service": (Service.slug, (Service, Service.id == Case.service_id)),
    "status": (Case.status, None),
}
STATISTICS = (*_DIMENSIONS, "resolution_hours")


def case_statistics(session: Session, *, now: datetime, weeks: int = 12,
                    only: tuple[str, ...] = STATISTICS) -> dict[str, Any]:
    """Anonymous counts for the dashboard: the number of cases, cases by brand, model,
    country, service and status (most first, "unknown" for none), and the median hours to
    resolve per ISO week of resolution (the last `weeks` weeks that saw a resolution).
    Each statistic is one grouped query, and only those in `only` are computed."""
    out: dict[str, Any] = {"total": session.scalar(select(func.count()).select_from(Case))}
    for name in only:
        if name == "resolution_hours":
            out[name] = _resolution_hours(session, now, weeks)
            continue
        column, join = _DIMENSIONS[name]
        query = select(column, func.count()).select_from(Case)
        if join is not None:
            query = query.outerjoin(*join)
        counts: Counter = Counter()
        for value, count in session.exec(query.group_by(column).order_by(column)).all():
            counts[value or "unknown"] += count
        out[name] = counts.most_common()
    return out


def _resolution_hours(session: Session, now: datetime,
                      weeks: int) -> list[tuple[str, float, int]]:
    """(ISO week, median hours, cases) for the last `weeks` weeks with a resolution, read
    newest first and only as far back as those weeks reach."""
    by_week: dict[str, list[float]] = defaultdict(list)
    rows = session.exec(select(Case.created_at, Case.resolved_at)
                        .where(Case.resolved_at.is_not(None), Case.resolved_at <= now)
                        .order_by(Case.resolved_at.desc()).execution_options(yield_per=1000))
    try:
        for created, resolved in rows:
            year, week, _day = resolved.astimezone(UTC).isocalendar()
            key = f"{year}-W{week:02d}"
            if key not in by_week and len(by_week) == weeks:
                break
            by_week[key].append((resolved - created).total_seconds() / 3600)
    finally:
        rows.close()
    return [(week, statistics.median(hours), len(hours))
            for week, hours in sorted(by_week.items())]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
