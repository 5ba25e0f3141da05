"""The staff queue page and its writes: saved filters and bulk changes. Staff or admin."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from babel.dates import format_timedelta
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import select

from ..db import get_session, utcnow
from ..markets.queries import market_countries
from ..security import current_actor, holds_personal_data, role_required
from ..users.models import User
from ..vocabulary import CASE_STATUSES, label
from .queries import overdue_count, queue_cases, queue_choices
from .queue_params import parse_queue_args
from .queue_services import (
    bulk_change,
    delete_filter,
    filter_query,
    save_filter,
    saved_filters,
)
from .staff_views import apply_or_flash
from .workflow import FINISHED

bp = Blueprint("staff_queue", __name__, url_prefix="/staff")
holds_personal_data(bp)
staff_only = role_required("staff", "admin")
#: Within this time of its due time an open case shows amber.
SOON = timedelta(hours=1)
NO_CHANGE, NOBODY = "", "-"


def render_queue():
    """The queue (`staff_cases.queue`): filters, sorting, due times, saved filters, bulk."""
    session, now = get_session(), utcnow()
    filters = parse_queue_args(request.args, allow_empty=True)
    total, cases = queue_cases(session, filters, now=now)
    args = {k: v for k, v in request.args.items() if v and k != "offset"}
    return render_template(
        "staff/queue.html", cases=cases, total=total, filters=filters, args=args,
        choices=queue_choices(session), overdue=overdue_count(session, now=now),
        saved=saved_filters(session, current_user.user.id), query=filter_query(args),
        sort_link=lambda key: _sort_link(args, filters.sort, key), now=now,
        due=lambda case: due_label(case, now), staff=_staff_emails(session),
        statuses=[(s, label(CASE_STATUSES, s)) for s in CASE_STATUSES], form=FlaskForm(),
        business_hours=market_countries(session))


def due_label(case: dict, now: datetime) -> tuple[str, str]:
    """(text, tone) of a queue row's due time: "Due in 3 hr" (`soon` within the hour),
    "Overdue by 2 hr" (`late`), "Paused" or, for a finished case, "Overdue" when it was
    resolved late; the tone colours it."""
    if not case["sla_due"]:
        return "", ""
    if case["status"] in FINISHED:
        return (_("Overdue"), "late") if case["sla_breached"] else ("", "")
    if case["sla_paused"]:
        return _("Paused"), "paused"
    left = datetime.fromisoformat(case["sla_due"]) - now
    if case["sla_breached"]:
        return _("Overdue by %(time)s", time=_span(-left)), "late"
    if left < timedelta(minutes=1):
        return _("Due now"), "soon"
    return _("Due in %(time)s", time=_span(left)), "soon" if left <= SOON else ""


def _span(delta: timedelta) -> str:
    return format_timedelta(max(delta, timedelta(minutes=1)), granularity="minute",
                            threshold=0.9, format="short", locale=get_locale())


def _sort_link(args: dict, current: str | None, key: str) -> tuple[str, str | None]:
    """(URL, aria-sort) of a column header: ascending first, then descending."""
    state = None
    if current == key:
        state, target = "ascending", f"-{key}"
    elif current == f"-{key}":
        state, target = "descending", key
    else:
        target = key
    return url_for("staff_cases.queue", **{**args, "sort": target}), state


def _staff_emails(session) -> list[str]:
    return list(session.exec(select(User.email).where(User.role.in_(("staff", "admin")))
                             .order_by(User.email)).all())


def _back(query: str):
    """Back to the queue as it was filtered (only the queue's own parameters)."""
    kept = filter_query(dict(parse_qsl(query[:2000])))
    return redirect(url_for("staff_cases.queue") + (f"?{kept}" if kept else ""), code=303)


@bp.post("/queue/filters")
@staff_only
def save():
    query = request.form.get("query", "")
    if FlaskForm().validate_on_submit():
        apply_or_flash(lambda: save_filter(get_session(), user_id=current_user.user.id,
                                           name=request.form.get("name", ""), query=query),
                       _("The filter is saved."))
    else:
        flash(_("The form has expired. Please try again."), "error")
    return _back(query)


@bp.post("/queue/filters/<id:filter_id>/delete")
@staff_only
def delete(filter_id: int):
    if FlaskForm().validate_on_submit() and delete_filter(
            get_session(), user_id=current_user.user.id, filter_id=filter_id):
        flash(_("The filter is deleted."), "success")
    else:
        flash(_("This filter cannot be deleted."), "error")
    return _back(request.form.get("query", ""))


@bp.post("/cases/bulk")
@staff_only
def bulk():
    """Assign and/or move the checked cases; each refused case is reported by reference."""
    form = request.form
    back = form.get("query", "")
    references = form.getlist("reference")[:200]
    changes = {}
    if form.get("status", NO_CHANGE) != NO_CHANGE:
        changes["status"] = form["status"]
    if form.get("assignee", NO_CHANGE) != NO_CHANGE:
        changes["assignee"] = None if form["assignee"] == NOBODY else form["assignee"]
    if not FlaskForm().validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return _back(back)
    if changes.get("status", "new") not in CASE_STATUSES:
        changes = {}
    if not references or not changes:
        flash(_("Tick at least one case and choose a change."), "error")
        return _back(back)
    outcome = bulk_change(get_session(), references, changes, actor=current_actor(),
                          hours=current_app.config["CASE_SLA_HOURS"])
    if outcome.changed:
        flash(ngettext("%(num)s case changed.", "%(num)s cases changed.",
                       len(outcome.changed)), "success")
    if outcome.unchanged:
        flash(_("Already so, left alone: %(references)s",
                references=", ".join(outcome.unchanged)), "info")
    for reference, why in outcome.refused:
        flash(_("%(reference)s not changed: %(reason)s", reference=reference, reason=why),
              "error")
    return _back(back)

