"""Dealer pages of cases: the cases assigned to their own organisation's shops only.

A dealer moves a case between `in_repair`, `waiting_parts` and `resolved` (by the moves
CONTRACT section 6 allows) and writes notes the owner reads. Another organisation's case
answers 404, as if absent."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlmodel import select

from ..db import get_session, utcnow
from ..security import current_actor, holds_personal_data, role_required
from ..shops.models import Shop
from ..vocabulary import CASE_STATUSES, label
from .forms import CaseChangeForm, NoteForm
from .models import Case
from .queries import case_document, list_cases
from .schemas import CasePatch, NoteIn
from .services import add_note, change_case, record_case_view
from .staff_views import apply_or_flash
from .workflow import DEALER_TARGETS, TRANSITIONS

bp = Blueprint("dealer_cases", __name__, url_prefix="/dealer")
holds_personal_data(bp)
dealer_only = role_required("dealer")



def _own_shop_ids() -> list[int]:
    return list(get_session().exec(select(Shop.id).where(
        Shop.organization_id == current_user.user.organization_id)).all())


def _own_case(reference: str) -> Case:
    case = get_session().exec(select(Case).where(
        Case.reference == reference.strip().upper()[:20],
        Case.shop_id.in_(_own_shop_ids()))).first()
    if case is None:
        abort(404)
    return case


@bp.get("/cases")
@dealer_only
def cases():
    _total, rows = list_cases(get_session(), now=utcnow(), shop_ids=_own_shop_ids(),
                              limit=200)
    return render_template("dealer/cases.html", cases=rows)


@bp.get("/cases/<reference>")
@dealer_only
def case(reference: str):
    session = get_session(write=True)  # the view shows the owner's contact: audited
    row = _own_case(reference)
    record_case_view(session, row, actor=current_actor())
    doc = case_document(session, row, now=utcnow())
    doc["events"] = [e for e in doc["events"] if e["kind"] != "note" or not e["internal"]]
    form = CaseChangeForm(formdata=None, version=row.version, status=row.status)
    form.status.choices = _moves(row.status)
    return render_template("dealer/case.html", case=doc, form=form,
                           note_form=NoteForm(formdata=None))


@bp.post("/cases/<reference>/status")
@dealer_only
def move(reference: str):
    row = _own_case(reference)
    form = CaseChangeForm()
    form.status.choices = _moves(row.status)
    form.priority.choices = form.assignee.choices = []
    if form.validate_on_submit() and form.status.data:
        apply_or_flash(lambda: change_case(
            get_session(), row, CasePatch(version=_version(form), status=form.status.data),
            actor=current_actor(),
            hours=current_app.config["CASE_SLA_HOURS"], allowed_targets=DEALER_TARGETS),
            _("The case was saved."))
    else:
        flash(_("Choose the new status."), "error")
    return redirect(url_for(".case", reference=row.reference))


@bp.post("/cases/<reference>/notes")
@dealer_only
def note(reference: str):
    row = _own_case(reference)
    form = NoteForm()
    if form.validate_on_submit():
        apply_or_flash(lambda: add_note(get_session(), row, NoteIn(body=form.body.data,
                                                           internal=False),
                                actor=current_actor()),
               _("The note was added."))
    else:
        flash(_("Write the note first."), "error")
    return redirect(url_for(".case", reference=row.reference))


def _moves(status: str) -> list[tuple[str, str]]:
    targets = sorted(TRANSITIONS.get(status, frozenset()) & DEALER_TARGETS)
    return [(s, label(CASE_STATUSES, s)) for s in targets]


def _version(form) -> int:
    return int(form.version.data) if (form.version.data or "").isdigit() else 0
