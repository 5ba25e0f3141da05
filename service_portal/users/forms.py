"""Browser forms of the users domain (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from .. import fields
from ..security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"),
                             validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Signing out is a POST with a CSRF token, so no link elsewhere can sign anyone out."""


class NewTokenForm(FlaskForm):
    name = StringField(_l("Name of the new token"), validators=[DataRequired(), Length(max=100)])

    def validate_name(self, field) -> None:
        try:
            fields.single_line_text(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class RevokeTokenForm(FlaskForm):
    """Revokes one token (POST with CSRF)."""


class TimeZoneForm(FlaskForm):
    """The zone the signed-in user reads times in; empty means their organisation's."""

    time_zone = SelectField(_l("Time zone"), validate_choice=True)

    def __init__(self, *args, default_label: str, **kwargs) -> None:
        from ..names import zone_choices

        super().__init__(*args, **kwargs)
        self.time_zone.choices = [("", default_label), *zone_choices()]


class NewPasswordForm(FlaskForm):
    """A new password, typed twice."""

    password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                               message=_l("A password has %(min)s to %(max)s characters."))])
    confirm = PasswordField(_l("The new password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Your current password"),
                            validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])


class SignOutEverywhereForm(FlaskForm):
    """Ends every session of the signed-in user (POST with CSRF)."""
