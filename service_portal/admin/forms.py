"""Forms of the admin area (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from ..security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                               message=_l("A password has %(min)s to %(max)s characters."))])
    confirm = PasswordField(_l("The new password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class UserActionForm(FlaskForm):
    """Disable, enable or sign out a user: a POST with a CSRF token and nothing else."""
