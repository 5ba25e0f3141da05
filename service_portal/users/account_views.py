"""People's own account pages: a forgotten password, an invitation, changing the password
and signing out everywhere. Links arrive by email (`links`, the outbox); the answer to a
reset request is the same whether or not the address has an account."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from ..db import get_session
from ..errors import PortalError
from ..security import current_actor, hash_token, limiter
from .forms import ChangePasswordForm, ForgotPasswordForm, NewPasswordForm, SignOutEverywhereForm
from .links import LinkState, user_for_link
from .services import (
    change_own_password,
    end_user_sessions,
    request_password_reset,
    set_password_by_link,
)

bp = Blueprint("account", __name__)


def reset_limit() -> str:
    return current_app.config["PASSWORD_RESET_RATE_LIMIT"]


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(reset_limit, methods=["POST"])
def forgot():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        request_password_reset(get_session(), form.email.data,
                               locale=str(get_locale() or "en"))
        return render_template("users/forgot.html", form=None, sent=True)
    return render_template("users/forgot.html", form=form, sent=False), \
        422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    return _set_password(token, "reset")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str):
    return _set_password(token, "invite")


def _set_password(token: str, purpose: str):
    """The page behind an emailed link: a form for the new password while the link holds."""
    db = get_session()
    state, user = user_for_link(db, current_app.config["SECRET_KEY"], token, purpose)
    if state is not LinkState.VALID:
        return render_template("users/set_password.html", form=None, state=state.value,
                               purpose=purpose), 410 if state is LinkState.EXPIRED else 404
    form = NewPasswordForm()
    if form.validate_on_submit():
        set_password_by_link(db, user, form.password.data, purpose=purpose)
        flash(_("Your password is set. Sign in with it."), "success")
        return redirect(url_for("users.login"), 303)
    return render_template("users/set_password.html", form=form, state="valid",
                           purpose=purpose, email=user.email), 422 if form.errors else 200


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            ended = change_own_password(
                get_session(), current_user.user, current=form.current.data,
                new=form.password.data, keep_session_hash=hash_token(current_user.session_id),
                actor=current_actor())
        except PortalError as exc:
            form.current.errors = [exc.message]
        else:
            flash(_("Your password is changed.") + " " + (
                _("Your other sessions were ended.") if ended else ""), "success")
            return redirect(url_for(".password"), 303)
    return render_template("users/password.html", form=form,
                           everywhere=SignOutEverywhereForm()), 422 if form.errors else 200


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """End every session of the signed-in user, this one too."""
    if SignOutEverywhereForm().validate_on_submit():
        end_user_sessions(get_session(), email=current_user.user.email, actor=current_actor())
        logout_user()  # this browser's session ended with the others, in this transaction
        session.clear()
        flash(_("You are signed out in every browser."), "info")
    return redirect(url_for("users.login"), 303)
