"""Staff pages of canned replies: list them, add one, edit or deactivate one."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..config import SUPPORTED_LOCALES
from ..db import get_session
from ..names import language_name
from ..security import holds_personal_data, role_required
from .canned import canned_replies, fill_reply, reply_groups, save_reply
from .forms import CannedReplyForm, NoteForm
from .models import CannedReply, Case
from .staff_views import apply_or_flash

bp = Blueprint("staff_canned", __name__, url_prefix="/staff/canned")
holds_personal_data(bp)  # signed-in pages are never cached
staff_only = role_required("staff", "admin")


def note_form_for(session, case: Case) -> tuple[NoteForm, dict]:
    """The case page's note form, and its canned replies (the case's language first).
    `?canned=<id>` (the "Insert" button, which works without scripts) fills the text with
    that reply for this case and makes the note a public reply."""
    groups = reply_groups(canned_replies(session), case.locale)
    chosen = request.args.get("canned", "")
    reply = session.get(CannedReply, int(chosen)) if chosen.isdigit() and \
        int(chosen) < 2**31 else None
    if reply is not None and reply.active:
        form = NoteForm(formdata=None, internal="",
                        body=fill_reply(reply.body, owner_name=case.owner_name,
                                        reference=case.reference))
    else:
        reply = None
        form = NoteForm(formdata=None)
    selected = reply.id if reply else (groups[0][1][0].id if groups else None)
    return form, {"groups": groups, "selected": selected, "inserted": reply}


def _form(reply: CannedReply | None = None, **kw) -> CannedReplyForm:
    form = CannedReplyForm(obj=reply, **kw)
    form.locale.choices = [(code, language_name(code)) for code in SUPPORTED_LOCALES]
    return form


@bp.route("", methods=["GET", "POST"])
@staff_only
def index():
    """Every reply, active or not, by language; the form adds one."""
    session = get_session()
    form = _form()
    if form.validate_on_submit():
        apply_or_flash(lambda: save_reply(session, reply=None, locale=form.locale.data,
                                          title=form.title.data, body=form.body.data,
                                          active=form.active.data),
                       _("The reply is saved."))
        return redirect(url_for(".index"), code=303)
    status = 422 if form.errors else 200
    return render_template("staff/canned.html", replies=canned_replies(session,
                                                                        active_only=False),
                           form=form), status


@bp.route("/<id:reply_id>", methods=["GET", "POST"])
@staff_only
def edit(reply_id: int):
    """Change a reply seen at its version (a 409-style message when someone else did)."""
    session = get_session()
    reply = session.get(CannedReply, reply_id) or abort(404)
    form = _form(reply, version=reply.version)
    if form.validate_on_submit():
        version = int(form.version.data) if (form.version.data or "").isdigit() else 0
        apply_or_flash(lambda: save_reply(session, reply=reply, locale=form.locale.data,
                                          title=form.title.data, body=form.body.data,
                                          active=form.active.data, version=version),
                       _("The reply is saved."))
        return redirect(url_for(".index"), code=303)
    status = 422 if form.errors else 200
    return render_template("staff/canned_edit.html", reply=reply, form=form), status
