"""Forms of the admin area (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..users.forms import NewPasswordForm

__all__ = ["InviteForm", "NewPasswordForm", "UserActionForm"]


class UserActionForm(FlaskForm):
    """Disable, enable or sign out a user: a POST with a CSRF token and nothing else."""


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), validate_choice=True)
    organization = SelectField(_l("Organisation (dealers)"), validate_choice=True)
    locale = SelectField(_l("Language of the invitation"), validate_choice=True)
