"""Owner pages of emails: the way out of a case's emails and of recall alerts (the link
in each message, RFC 8058 one-click: a mail program POSTs `List-Unsubscribe=One-Click` to
it; a person opening it gets a button; the signed token in the link is the authority, so
the POST takes no CSRF token), and the recall alert form's answer and confirmation."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import update

from ..cases.models import Case
from ..db import get_session
from ..errors import PortalError
from ..jsonbody import error_message
from ..security import csrf, holds_personal_data
from .alert_forms import CONSENT_NEEDED, AlertForm
from .alerts import (
    car_of,
    car_words,
    confirm_subscription,
    end_subscription,
    subscription_to_end,
    where_words,
)
from .api import accepted_message, alert_limited, request_alerts
from .messages import reference_from_token
from .schemas import AlertRequest

bp = Blueprint("notifications", __name__)
holds_personal_data(bp)  # addresses, cars and VINs: never cached
bp.add_app_template_global(car_words)
bp.add_app_template_global(where_words)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """GET: ask; POST: stop the case's emails to its owner (again: still stopped)."""
    reference = reference_from_token(current_app.config["SECRET_KEY"], token)
    if reference is None:
        return render_template("notifications/unsubscribe.html", state="invalid"), 404
    if request.method == "GET":
        return render_template("notifications/unsubscribe.html", state="ask",
                               reference=reference)
    get_session(write=True).execute(update(Case).where(Case.reference == reference)
                                    .values(owner_updates=False))
    return render_template("notifications/unsubscribe.html", state="done",
                           reference=reference)


@bp.post("/alerts")
@alert_limited
def alert_subscribe():
    """The "My car" page's alert form: on to "check your inbox", or the form again with
    what to correct (422)."""
    form = AlertForm().fill_choices()
    if form.validate_on_submit() and _subscribe(form):
        return redirect(url_for(".alert_sent"), code=303)
    car_error = next((e for name in ("vin", "model", "year") for e in form[name].errors), None)
    return render_template("notifications/alert_form.html", form=form,
                           car_error=car_error), 422


@bp.get("/alerts/sent")
def alert_sent():
    return render_template("notifications/alert_sent.html", message=accepted_message())


@bp.get("/alerts/confirm/<token>")
def alert_confirm(token: str):
    session = get_session(write=True)
    state, subscription = confirm_subscription(session, current_app.config["SECRET_KEY"],
                                               token)
    car = car_of(session, subscription) if subscription else None
    status = {"expired": 410, "invalid": 404}.get(state, 200)
    return render_template("notifications/alert_confirm.html", state=state, car=car), status


@bp.route("/alerts/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def alert_unsubscribe(token: str):
    """GET: ask; POST: the subscription goes (again: already gone, said so)."""
    session = get_session()
    genuine, subscription = subscription_to_end(session, current_app.config["SECRET_KEY"],
                                                token)
    if not genuine:
        return render_template("notifications/alert_unsubscribe.html", state="invalid"), 404
    if subscription is None:
        return render_template("notifications/alert_unsubscribe.html", state="gone")
    car = car_of(session, subscription)
    if request.method == "GET":
        return render_template("notifications/alert_unsubscribe.html", state="ask", car=car)
    end_subscription(session, subscription)
    return render_template("notifications/alert_unsubscribe.html", state="done", car=car)


def _subscribe(form: AlertForm) -> bool:
    """Subscribe with the form's values; on refusal put each message on its field."""
    year = (form.year.data or "").strip()
    raw = {"vin": form.vin.data, "model": form.model.data,
           "year": int(year) if year.isascii() and year.isdigit() else year or None,
           "email": form.email.data, "locale": form.locale.data,
           "country": form.country.data, "consent": bool(form.consent.data)}
    try:
        request_alerts(AlertRequest.model_validate(
            {k: v for k, v in raw.items() if v not in (None, "")}))
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "vin"
            target = form[name] if name in form else form.vin
            message = str(CONSENT_NEEDED) if name == "consent" else error_message(err)
            target.errors = [*target.errors, message]
        return False
    except PortalError as exc:
        target = form[exc.field] if exc.field in form else form.vin
        target.errors = [*target.errors, exc.message or _("Not a valid value.")]
        return False
    return True
