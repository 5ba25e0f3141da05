"""Staff privacy page: export everything held on an owner, or erase it (CONTRACT section 10).

The owner's email travels in a POST body only; both actions are written to the audit log
with the case references, never the address."""

from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ..db import get_session
from ..security import current_actor, holds_personal_data, role_required
from ..tabular import download
from .forms import PrivacyForm
from .services import erase_owner, export_owner

bp = Blueprint("staff_privacy", __name__, url_prefix="/staff")
holds_personal_data(bp)
staff_only = role_required("staff", "admin")



@bp.route("/privacy", methods=["GET", "POST"])
@staff_only
def privacy():
    form = PrivacyForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        session = get_session()
        if request.form.get("action") == "erase":
            if not form.confirm.data:
                form.confirm.errors = [_("Tick the box to confirm the erasure.")]
                return render_template("staff/privacy.html", form=form), 422
            references = erase_owner(session, email, actor=current_actor())
            flash(_erased_message(len(references)), "success")
            return redirect(url_for(".privacy"))
        data = export_owner(session, email, actor=current_actor())
        return download(json.dumps(data, ensure_ascii=False, indent=2).encode(),
                        "owner-data.json", "application/json")
    return render_template("staff/privacy.html", form=form), 422 if form.errors else 200


def _erased_message(count: int) -> str:
    if count == 0:
        return _("No case was held for this address.")
    return ngettext("The personal data of %(num)s case was erased.",
                    "The personal data of %(num)s cases was erased.", count)
