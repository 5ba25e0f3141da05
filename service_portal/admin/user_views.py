"""Admin pages for accounts: find a user, set their password, disable or enable them, end
their sessions. The rules and the audit entries are the users domain's services; every POST
carries a CSRF token (checked app-wide)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..db import get_session
from ..errors import BadParameter, PortalError
from ..i18n import language_choices
from ..names import vocab
from ..params import check_text, refuse_unknown, single
from ..security import current_actor
from ..shops.models import Organization
from ..users.models import ROLES
from ..users.services import (
    change_password,
    disable_user,
    enable_user,
    end_user_sessions,
    invite_user,
)
from .blueprint import PAGE_SIZE, admin_only, bp
from .forms import InviteForm, NewPasswordForm, UserActionForm
from .queries import USER_SORTS, list_users, user_details

_STATES = {"active": True, "disabled": False}


@bp.get("/users")
@admin_only
def users():
    """The user list: `q` (email or name), `role`, `state`, `sort` (a column, `-` first for
    descending) and `offset`; anything else is a 400."""
    args = request.args
    refuse_unknown(args, ("q", "role", "state", "sort", "offset"))
    text = check_text("q", single(args, "q", allow_empty=True) or "")
    role = single(args, "role", allow_empty=True) or None
    if role is not None and role not in ROLES:
        raise BadParameter(field="role")
    state = single(args, "state", allow_empty=True) or None
    if state is not None and state not in _STATES:
        raise BadParameter(field="state")
    sort = single(args, "sort", allow_empty=True) or "email"
    if sort.removeprefix("-") not in USER_SORTS:
        raise BadParameter(field="sort")
    raw_offset = single(args, "offset", allow_empty=True) or "0"
    if not (raw_offset.isascii() and raw_offset.isdigit()) or int(raw_offset) > 10**7:
        raise BadParameter(field="offset")
    offset = int(raw_offset)
    total, rows = list_users(get_session(), text=text, role=role,
                             active=_STATES.get(state or ""), sort=sort.removeprefix("-"),
                             descending=sort.startswith("-"), offset=offset, limit=PAGE_SIZE)
    kept = {k: v for k, v in (("q", text), ("role", role), ("state", state)) if v}
    return render_template("admin/users.html", rows=rows, total=total, offset=offset,
                           page_size=PAGE_SIZE, sort=sort, kept=kept, roles=ROLES,
                           text=text, role=role, state=state)


@bp.route("/users/invite", methods=["GET", "POST"])
@admin_only
def invite():
    """A new account without a password; the person gets an email to choose one.
    `?organization=<slug>` preselects the organisation (and the dealer role)."""
    db = get_session()
    form = InviteForm()
    form.role.choices = [(code, vocab("role", code)) for code in ROLES if code != "owner"]
    form.organization.choices = [("", _("None"))] + [
        (slug, name) for slug, name in db.execute(
            select(Organization.slug, Organization.name).order_by(Organization.name))]
    form.locale.choices = language_choices()
    if request.method == "GET":
        form.locale.data = str(get_locale() or "en")
        # `?organization=<slug>` (from an organisation's page) chooses it, as a dealer's.
        chosen = single(request.args, "organization", allow_empty=True)
        if chosen and chosen in dict(form.organization.choices):
            form.organization.data, form.role.data = chosen, "dealer"
    if form.validate_on_submit():
        try:
            user = invite_user(db, email=form.email.data, role=form.role.data,
                               organization=form.organization.data or None,
                               name=form.name.data.strip(), locale=form.locale.data,
                               actor=current_actor())
        except PortalError as exc:
            getattr(form, exc.field if exc.field in ("email", "role") else "organization",
                    form.email).errors = [exc.message]
        else:
            flash(_("The invitation is on its way to %(email)s. Its link works for 72 hours.",
                    email=user.email), "success")
            return redirect(url_for(".user", user_id=user.id), 303)
    return render_template("admin/invite.html", form=form), 422 if form.errors else 200


@bp.get("/users/<id:user_id>")
@admin_only
def user(user_id: int):
    return _user_page(user_id, NewPasswordForm())


@bp.post("/users/<id:user_id>/password")
@admin_only
def password(user_id: int):
    """A new password; the user's sessions end (they sign in again with it)."""
    form = NewPasswordForm()
    row = _row(user_id)
    if not form.validate_on_submit():
        return _user_page(user_id, form), 422
    ended = change_password(get_session(), email=row.user.email, password=form.password.data,
                            actor=current_actor())
    flash(_("The password is changed.") + " " + _ended(ended), "success")
    return redirect(url_for(".user", user_id=user_id), 303)


@bp.post("/users/<id:user_id>/disable")
@admin_only
def disable(user_id: int):
    row = _row(user_id)
    if row.user.id == current_user.user.id:
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for(".user", user_id=user_id), 303)
    ended = disable_user(get_session(), email=row.user.email, actor=current_actor())
    flash(_("The account is disabled: it can no longer sign in or use its API tokens.")
          + " " + _ended(ended), "success")
    return redirect(url_for(".user", user_id=user_id), 303)


@bp.post("/users/<id:user_id>/enable")
@admin_only
def enable(user_id: int):
    row = _row(user_id)
    enable_user(get_session(), email=row.user.email, actor=current_actor())
    flash(_("The account is enabled again."), "success")
    return redirect(url_for(".user", user_id=user_id), 303)


@bp.post("/users/<id:user_id>/sign-out")
@admin_only
def sign_out(user_id: int):
    """End every browser session of the user (API tokens are revoked one by one)."""
    row = _row(user_id)
    ended = end_user_sessions(get_session(), email=row.user.email, actor=current_actor())
    flash(_ended(ended), "success")
    return redirect(url_for(".user", user_id=user_id), 303)


def _row(user_id: int):
    row = user_details(get_session(), user_id)
    if row is None:
        abort(404)
    return row


def _user_page(user_id: int, password_form: NewPasswordForm):
    return render_template("admin/user.html", row=_row(user_id), password_form=password_form,
                           action_form=UserActionForm())


def _ended(count: int) -> str:
    if count == 0:
        return _("No browser session was open.")
    return ngettext("%(num)s browser session ended.", "%(num)s browser sessions ended.", count)
