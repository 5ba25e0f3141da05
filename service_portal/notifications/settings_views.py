"""`/account/emails`: the signed-in user's email language and, for staff, which cases they
hear of by email."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..catalog.models import Brand
from ..db import get_session
from ..i18n import country_choices, language_choices
from ..security import current_actor
from .forms import EmailChoicesForm
from .models import StaffAlertChoice
from .services import save_email_choices

bp = Blueprint("email_settings", __name__)


@bp.route("/account/emails", methods=["GET", "POST"])
@login_required
def emails():
    db, user = get_session(), current_user.user
    staff = user.role in ("staff", "admin")
    form = EmailChoicesForm()
    form.locale.choices = language_choices()
    form.countries.choices = country_choices()
    form.brands.choices = [(slug, name) for slug, name in db.execute(
        select(Brand.slug, Brand.name).order_by(Brand.name))]
    if request.method == "GET":
        chosen = db.get(StaffAlertChoice, user.id)
        form.locale.data = user.locale or "en"
        if chosen is not None:
            form.new_cases.data, form.sla_warnings.data = chosen.new_cases, chosen.sla_warnings
            form.assignments.data = chosen.assignments
            form.countries.data, form.brands.data = chosen.countries, chosen.brands
        else:
            form.assignments.data = True
        return render_template("notifications/settings.html", form=form, staff=staff)
    if not form.validate_on_submit():
        return render_template("notifications/settings.html", form=form, staff=staff), 422
    save_email_choices(db, user, locale=form.locale.data, actor=current_actor(),
                       new_cases=form.new_cases.data, sla_warnings=form.sla_warnings.data,
                       assignments=form.assignments.data, countries=form.countries.data,
                       brands=form.brands.data)
    flash(_("Your email settings are saved."), "info")
    return redirect(url_for(".emails"), 303)
