"""Case forms (Flask-WTF): the owner's request and status look-up, staff and shop changes.

Forms only carry what people type; the rules live in `schemas.py` and `services.py`, so a
page and the API refuse the same things."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from .models import PRIORITIES


class RequestHelpForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[InputRequired(), Length(max=200)])
    email = EmailField(_l("Email address"), validators=[InputRequired(), Length(max=254)])
    phone = StringField(_l("Phone (optional)"), validators=[Optional(), Length(max=40)])
    vin = StringField(_l("VIN (optional)"), validators=[Optional(), Length(max=40)])
    model = SelectField(_l("Model"), validators=[Optional()])
    year = IntegerField(_l("Model year (optional)"),
                        validators=[Optional(), NumberRange(min=1990, max=2100)])
    country = SelectField(_l("Country you are in"), validators=[InputRequired()])
    place = StringField(_l("Town or city (optional)"), validators=[Optional(), Length(max=200)])
    service = SelectField(_l("What do you need?"), validators=[InputRequired()])
    description = TextAreaField(_l("Describe the problem"),
                                validators=[InputRequired(), Length(min=10, max=5000)])
    shop_id = HiddenField()
    consent = BooleanField(_l("I agree that the portal stores these details to handle my "
                              "request, and shares them with the shop that takes it on."))


class CaseLookupForm(FlaskForm):
    reference = StringField(_l("Case reference"), validators=[InputRequired(), Length(max=20)])
    email = EmailField(_l("Email address"), validators=[InputRequired(), Length(max=254)])


class CaseChangeForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])
    status = SelectField(_l("Status"), validators=[Optional()])
    priority = SelectField(_l("Priority"), choices=list(PRIORITIES), validators=[Optional()])
    shop_id = IntegerField(_l("Shop number"),
                           validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])
    assignee = SelectField(_l("Assignee"), validators=[Optional()])
    bulletin_codes = SelectMultipleField(_l("Linked bulletins"), validators=[Optional()])


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[InputRequired(), Length(max=5000)])
    internal = BooleanField(_l("Internal (not shown to the owner)"), default=True)


class PrivacyForm(FlaskForm):
    email = EmailField(_l("Owner's email address"),
                       validators=[InputRequired(), Length(max=254)])
    confirm = BooleanField(_l("Yes, erase this owner's personal data for good"))
