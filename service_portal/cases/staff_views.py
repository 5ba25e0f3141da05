"""Staff pages of cases: the queue, a case with its history, suggestions and changes,
the dashboard, the CSV export, privacy requests and the audit log. Staff or admin only."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlmodel import select

from ..audit.services import record_export
from ..bulletins.queries import applicable_bulletins
from ..catalog.models import Brand, Service
from ..db import get_session
from ..errors import BadParameter, PortalError
from ..jsonbody import error_message
from ..markets.queries import market_countries
from ..notifications.outbox import case_messages, utcnow
from ..parts.schemas import part_number as check_part_number
from ..search import SearchParams, search
from ..security import current_actor, holds_personal_data, role_required
from ..shops.models import Shop
from ..tabular import download, to_csv
from ..users.models import User
from ..vocabulary import CASE_PRIORITIES, CASE_STATUSES, label
from . import charts
from .forms import CaseChangeForm, NoteForm
from .models import Case
from .queries import case_by_reference, case_document, case_statistics, queue_cases
from .queue_params import parse_queue_args
from .schemas import CasePatch, NoteIn
from .services import add_note, change_case, record_case_view
from .workflow import TRANSITIONS

bp = Blueprint("staff_cases", __name__, url_prefix="/staff")
holds_personal_data(bp)
staff_only = role_required("staff", "admin")
SUGGESTION_RADIUS_KM = 300.0
EXPORT_LIMIT = 100_000
EXPORT_COLUMNS = ["reference", "status", "priority", "brand", "model", "model_year", "country",
                  "service", "shop", "assignee", "created_at", "sla_due", "sla_breached",
                  "resolved_at", "closed_at"]



@bp.get("/cases")
@staff_only
def queue():
    from .queue_views import render_queue  # that module builds on this one's helpers

    return render_queue()


@bp.get("/cases/<reference>")
@staff_only
def case(reference: str):
    session = get_session(write=True)  # the view itself is audited
    row = case_by_reference(session, reference)
    record_case_view(session, row, actor=current_actor())
    doc = case_document(session, row, now=utcnow())
    bulletins = applicable_bulletins(session, brand_id=row.brand_id, model_id=row.model_id,
                                     year=row.model_year, country=row.country,
                                     locale=str(get_locale() or "en")) if row.brand_id else []
    change_form = _change_form(session, row, doc, bulletins)
    from .canned_views import note_form_for  # that module builds on this one's helpers

    note_form, canned = note_form_for(session, row)
    part, availability = _part_availability(row)
    return render_template("staff/case.html", case=doc, bulletins=bulletins,
                           shops=_suggested_shops(row), change_form=change_form,
                           note_form=note_form, canned=canned, part=part,
                           availability=availability, emails=case_messages(session, row.id),
                           owner_updates=row.owner_updates,
                           business_hours=market_countries(session))


@bp.post("/cases/<reference>/change")
@staff_only
def change(reference: str):
    session = get_session()
    row = case_by_reference(session, reference)
    form = CaseChangeForm()
    _fill_change_choices(session, row, form, bulletin_codes=None)
    if form.validate_on_submit():
        values = {"version": int(form.version.data) if form.version.data.isdigit() else 0}
        for name in ("status", "priority", "assignee"):
            value = getattr(form, name).data
            if value and value != getattr(row, name, None):
                values[name] = value
        values["shop_id"] = form.shop_id.data
        if form.assignee.data == "-":
            values["assignee"] = None
        values["bulletin_codes"] = form.bulletin_codes.data or []
        apply_or_flash(lambda: change_case(
            session, row, CasePatch.model_validate(values), actor=current_actor(),
            hours=current_app.config["CASE_SLA_HOURS"]),
            _("The case was saved."))
    else:
        _flash_form_errors(form)
    return redirect(url_for(".case", reference=row.reference))


@bp.post("/cases/<reference>/notes")
@staff_only
def note(reference: str):
    session = get_session()
    row = case_by_reference(session, reference)
    form = NoteForm()
    if form.validate_on_submit():
        apply_or_flash(lambda: add_note(session, row, NoteIn(body=form.body.data,
                                                     internal=form.internal.data == "y"),
                                actor=current_actor()),
               _("The note was added."))
    else:
        _flash_form_errors(form)
    return redirect(url_for(".case", reference=row.reference))


@bp.get("/dashboard")
@staff_only
def dashboard():
    stats = case_statistics(get_session(), now=utcnow())
    return render_template("staff/dashboard.html", stats=stats, charts=charts.CHARTS)


@bp.get("/dashboard/<name>.svg")
@staff_only
def chart(name: str):
    if name not in charts.CHARTS:
        raise BadParameter(field="name")
    key = charts.CHARTS[name][1]
    svg = charts.render(name, case_statistics(get_session(), now=utcnow(), only=(key,)))
    response = Response(svg, mimetype="image/svg+xml")
    # The chart is an image: its own inline styles only; it runs no script.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/cases.csv")
@staff_only
def export():
    """The queue as CSV, without owners' personal data; formulas neutralised."""
    session = get_session(write=True)  # the export itself is audited
    filters = parse_queue_args(request.args, allow_empty=True)
    _total, cases = queue_cases(session, filters, now=utcnow(), limit=EXPORT_LIMIT)
    rows = [[c["reference"], c["status"], c["priority"], c["brand"], c["model"],
             c["model_year"], c["country"], c["service"],
             c["shop"]["name"] if c["shop"] else "", c["assignee"] or "", c["created_at"],
             c["sla_due"], c["sla_breached"], c["resolved_at"] or "", c["closed_at"] or ""]
            for c in cases]
    # The search text may name an owner: the entry says only that there was one.
    used = {k: ("…" if k == "q" else v) for k, v in request.args.items() if v}
    record_export(session, actor=current_actor(), what="cases", entity_type="queue",
                  entity_id="cases.csv", rows=len(rows), details={"filters": used})
    return download(to_csv(EXPORT_COLUMNS, rows), "cases.csv", "text/csv")


def apply_or_flash(action, success: str) -> None:
    """Run a service call (schema checks included); a refusal becomes a flashed message
    and the request rolls back, so a page never half-applies a change."""
    try:
        action()
    except PortalError as exc:
        g.rollback_only = True
        flash(str(exc.message or exc.default_message), "error")
    except ValidationError as exc:
        g.rollback_only = True
        for err in exc.errors():
            flash(error_message(err), "error")
    else:
        flash(success, "success")


def _flash_form_errors(form) -> None:
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        for error in errors:
            flash(f"{label}: {error}", "error")


def _change_form(session, row: Case, doc: dict, bulletins: list[dict]) -> CaseChangeForm:
    form = CaseChangeForm(formdata=None, version=row.version, status=row.status,
                          priority=row.priority, shop_id=row.shop_id,
                          assignee=doc["assignee"] or "-",
                          bulletin_codes=doc["bulletin_codes"])
    _fill_change_choices(session, row, form,
                         bulletin_codes=[b["code"] for b in bulletins] + doc["bulletin_codes"])
    return form


def _fill_change_choices(session, row: Case, form: CaseChangeForm,
                         bulletin_codes: list[str] | None) -> None:
    statuses = [row.status, *sorted(TRANSITIONS.get(row.status, ()))]
    form.status.choices = [(s, label(CASE_STATUSES, s)) for s in statuses]
    form.priority.choices = [(p, label(CASE_PRIORITIES, p)) for p in CASE_PRIORITIES]
    staff = session.exec(select(User.email).where(User.role.in_(("staff", "admin")))
                         .order_by(User.email)).all()
    form.assignee.choices = [("-", _("Nobody")), *[(e, e) for e in staff]]
    if bulletin_codes is None:  # a submitted form: any code, checked by the service
        form.bulletin_codes.choices = [(c, c) for c in request.form.getlist("bulletin_codes")]
    else:
        form.bulletin_codes.choices = [(c, c) for c in dict.fromkeys(bulletin_codes)]


def _centre(row: Case) -> tuple[float, float] | None:
    if row.lat is not None and row.lon is not None:
        return row.lat, row.lon
    if row.shop_id:
        shop = get_session().get(Shop, row.shop_id)
        return (shop.lat, shop.lon) if shop else None
    return None


def _suggested_shops(row: Case) -> list[dict]:
    """The nearest shops that do the case's service for its brand, best match first."""
    centre = _centre(row)
    if centre is None:
        return []
    session = get_session()
    service = session.scalar(select(Service.slug).where(Service.id == row.service_id))
    brand = session.scalar(select(Brand.slug).where(Brand.id == row.brand_id)) \
        if row.brand_id else None
    params = SearchParams(lat=centre[0], lon=centre[1], radius_km=SUGGESTION_RADIUS_KM,
                          limit=5, brand=brand, services=[service], sort="best")
    return search(params)["results"]


def _part_availability(row: Case) -> tuple[str | None, list[dict] | None]:
    raw = (request.args.get("part") or "").strip()
    if not raw:
        return None, None
    try:
        number = check_part_number(raw)
    except ValueError as exc:
        flash(str(exc), "error")
        return raw, None
    centre = _centre(row)
    if centre is None:
        flash(_("The case has no place, so parts cannot be looked up nearby."), "error")
        return number, None
    params = SearchParams(lat=centre[0], lon=centre[1], radius_km=SUGGESTION_RADIUS_KM,
                          limit=10, parts=[number])
    try:
        return number, search(params)["results"]
    except PortalError as exc:
        flash(str(exc.message or exc.default_message), "error")
        return number, None
