"""The dealer's shop profile form (Flask-WTF; checks shared with the CSV import)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    ValidationError,
    widgets,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from .. import fields
from .models import HV_LEVELS
from .schemas import check_opening_hours
from .takeback import MAX_SCHEME_CHARS, MAX_WEIGHT_KG


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
    # What a battery take-back point takes (shown while the shop offers battery-recycling).
    takes_chemistries = SelectMultipleField(_l("Battery chemistries taken back"), coerce=str,
                                            widget=widgets.ListWidget(prefix_label=False),
                                            option_widget=widgets.CheckboxInput())
    takes_damaged = BooleanField(_l("Takes damaged or defective packs"))
    takes_max_weight_kg = IntegerField(_l("Heaviest pack taken, in kg (empty: any weight)"),
                                       validators=[Optional(), NumberRange(1, MAX_WEIGHT_KG)])
    takes_free = BooleanField(_l("Take-back is free of charge"))
    takes_scheme = StringField(_l("Producer take-back scheme"),
                               validators=[Optional(), Length(max=MAX_SCHEME_CHARS),
                                           _check(fields.single_line_text)])
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
