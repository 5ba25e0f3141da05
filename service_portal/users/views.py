"""Sign-in and sign-out pages."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..db import get_session, utcnow
from ..names import UTC, organization_zone
from ..security import current_actor, limiter
from .auth import authenticate, end_session, safe_next, start_session
from .forms import LoginForm, LogoutForm, NewTokenForm, RevokeTokenForm, TimeZoneForm
from .models import ApiToken
from .queries import login_wait
from .services import (
    clear_failed_logins,
    issue_token_for,
    record_failed_login,
    revoke_token,
    set_time_zone,
)

bp = Blueprint("users", __name__)


def _failed(response) -> bool:
    return response.status_code != 302


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], deduct_when=_failed)
def login():
    """Sign in. Per client address, failures are rate-limited (`LOGIN_RATE_LIMIT`); per
    email address, they make further attempts wait (`users.throttle`)."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        db, email, now = get_session(), form.email.data, utcnow()
        config = current_app.config
        wait = login_wait(db, email, now=now, free=config["LOGIN_FREE_FAILURES"],
                          cap=config["LOGIN_MAX_DELAY_SECONDS"])
        if wait:
            flash(_("Too many failed sign-ins with this email address. "
                    "Try again in %(wait)s.", wait=format_timedelta(
                        timedelta(seconds=wait), threshold=1, add_direction=False)), "error")
            return render_template("users/login.html", form=form), 429, \
                {"Retry-After": str(wait)}
        user = authenticate(db, email, form.password.data)
        if user is not None:
            clear_failed_logins(db, email)
            start_session(db, user)
            default = _landing(user.role)
            return redirect(safe_next(form.next.data, default))
        record_failed_login(db, email, now=now)
        db.commit()  # the failure counts, although the answer is an error
        flash(_("Wrong email or password."), "error")
        return render_template("users/login.html", form=form), 401
    status = 400 if request.method == "POST" else 200
    return render_template("users/login.html", form=form), status


def _landing(role: str) -> str:
    """Where a sign-in without a `next` lands: staff on the queue, dealers on their shops."""
    if role in ("staff", "admin"):
        return url_for("staff_cases.queue")
    return url_for("dealer.shops") if role == "dealer" else url_for("home.index")


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        end_session(current_user.get_id())
        flash(_("You are signed out."), "info")
    return redirect(url_for("home.index"))


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    """The signed-in user's API tokens: create one (shown once), see and revoke them."""
    form = NewTokenForm()
    db = get_session()
    shown = None
    if request.method == "POST":
        if not form.validate_on_submit():
            return _tokens_page(form, None), 400
        shown = issue_token_for(db, current_user.user, form.name.data,
                                actor=current_actor())
        flash(_("Copy the token now: it will not be shown again."), "info")
    return _tokens_page(form, shown)


@bp.post("/account/tokens/<id:token_id>/revoke")
@login_required
def revoke(token_id: int):
    if RevokeTokenForm().validate_on_submit() and revoke_token(
            get_session(), current_user.user, token_id, actor=current_actor()):
        flash(_("The token is revoked."), "info")
    else:
        flash(_("This token cannot be revoked."), "error")
    return redirect(url_for(".tokens")), 303


@bp.route("/account/settings", methods=["GET", "POST"])
@login_required
def settings():
    """The signed-in user's settings: the time zone their pages show times in."""
    db, user = get_session(), current_user.user
    default = organization_zone(db, user.organization_id) or UTC
    form = TimeZoneForm(default_label=_("Default: %(zone)s", zone=default.replace("_", " ")))
    if request.method == "GET":
        form.time_zone.data = user.time_zone or ""
    elif form.validate_on_submit():
        set_time_zone(db, user, form.time_zone.data or None)
        flash(_("Your settings are saved."), "info")
        return redirect(url_for(".settings")), 303
    else:
        return render_template("users/settings.html", form=form, example=utcnow()), 422
    return render_template("users/settings.html", form=form, example=utcnow())


def _tokens_page(form, shown: str | None):
    rows = get_session().scalars(select(ApiToken).where(ApiToken.user_id == current_user.user.id)
                                 .order_by(ApiToken.created_at.desc())).all()
    return render_template("users/tokens.html", form=form, tokens=rows, shown=shown,
                           revoke_form=RevokeTokenForm())
