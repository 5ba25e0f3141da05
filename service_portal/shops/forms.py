"""The dealer's shop profile form (Flask-WTF; checks shared with the CSV import)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    ValidationError,
    widgets,
)
from wtforms.validators import InputRequired, Length, Optional

from .. import fields
from .models import HV_LEVELS
from .schemas import check_opening_hours


def _check(parse):
    """A WTForms validator from one of the shared field checks."""
    def validate(form, field) -> None:
        if field.data:
            try:
                field.data = parse(field.data)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
    return validate


class ShopProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200),
                                              _check(fields.single_line_text)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = StringField(_l("Email"), validators=[Optional(), _check(fields.email)])
    website = StringField(_l("Website"), validators=[Optional(), _check(fields.web_link)])
    opening_hours = StringField(_l("Opening hours (OpenStreetMap syntax)"),
                                validators=[Optional(), Length(max=500),
                                            _check(check_opening_hours)])
    languages = StringField(_l("Languages spoken (codes, separated by commas)"),
                            validators=[Optional(), Length(max=200)])
    services = SelectMultipleField(_l("Services"), coerce=str,
                                   widget=widgets.ListWidget(prefix_label=False),
                                   option_widget=widgets.CheckboxInput())
    hv_level = SelectField(_l("High-voltage qualification"), choices=list(HV_LEVELS))
    hv_valid_until = DateField(_l("Qualification valid until"), validators=[Optional()])
    version = HiddenField(validators=[InputRequired()])

    def validate_languages(self, field) -> None:
        codes = []
        for raw in (field.data or "").replace(";", ",").split(","):
            if raw.strip():
                try:
                    codes.append(fields.language(raw))
                except ValueError as exc:
                    raise ValidationError(str(exc)) from None
        field.data = ", ".join(dict.fromkeys(codes))
