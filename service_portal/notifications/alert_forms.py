"""The owner's recall alert form on the "My car" page: the car travels in hidden fields
(what the page shows), the owner adds an address, a language and consent. The rules live
in `schemas.py` and `alerts.py`, shared with `POST /api/v1/alerts`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, SelectField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from .. import fields
from ..i18n import country_choices, language_choices

CONSENT_NEEDED = _l("Please agree, so that we can send you the alerts.")


def _valid_email(form: FlaskForm, field: EmailField) -> None:
    try:
        fields.email(field.data or "")
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class AlertForm(FlaskForm):
    vin = HiddenField()
    model = HiddenField()
    year = HiddenField()
    email = EmailField(_l("Email address"), validators=[
        InputRequired(_l("Enter your email address.")), Length(max=254), _valid_email])
    locale = SelectField(_l("Language of the emails"))
    country = SelectField(_l("Country where the car is registered"))
    consent = BooleanField(_l("I agree that the portal keeps my email address and my car's "
                              "details to send me recall alerts, until I unsubscribe."),
                           validators=[DataRequired(CONSENT_NEEDED)])

    def fill_choices(self) -> AlertForm:
        self.locale.choices = language_choices()
        self.country.choices = [("", _l("Any country")), *country_choices()]
        return self
