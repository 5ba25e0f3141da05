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
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from .. import fields
from ..catalog.vin import decode_vin
from .models import PRIORITIES

#: Said when a help request names no car (the service says the same to the API).
NO_VEHICLE = _l("Say which car: a VIN or a model.")


def _valid_email(form: FlaskForm, field: EmailField) -> None:
    """The email rule of `fields.email`, in the same round as the required fields."""
    try:
        fields.email(field.data or "")
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _valid_vin(form: FlaskForm, field: StringField) -> None:
    if not decode_vin(field.data or "").valid:
        raise ValidationError(_l("Not a VIN: 17 letters and digits, without I, O and Q."))


def _valid_phone(form: FlaskForm, field: StringField) -> None:
    """A phone valid for the chosen country (`fields.phone_e164`); an international number
    ("+49 ...") is checked even before a country is chosen."""
    country = form.country.data or None
    if country is None and not (field.data or "").strip().startswith(("+", "00")):
        return
    try:
        fields.phone_e164(field.data, country)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class RequestHelpForm(FlaskForm):
    """Every field is checked in one round: format errors come with the missing ones."""

    name = StringField(_l("Your name"), validators=[
        InputRequired(_l("Enter your name.")), Length(max=200)])
    email = EmailField(_l("Email address"), validators=[
        InputRequired(_l("Enter your email address.")), Length(max=254), _valid_email])
    phone = StringField(_l("Phone (optional)"), validators=[
        Optional(), Length(max=40), _valid_phone])
    vin = StringField(_l("VIN (optional)"), validators=[Optional(), Length(max=40), _valid_vin])
    model = SelectField(_l("Model"), validators=[Optional()])
    year = IntegerField(_l("Model year (optional)"),
                        validators=[Optional(), NumberRange(min=1990, max=2100)])
    country = SelectField(_l("Country you are in"), validators=[
        InputRequired(_l("Choose the country you are in."))])
    place = StringField(_l("Town or city (optional)"), validators=[Optional(), Length(max=200)])
    service = SelectField(_l("What do you need?"), validators=[
        InputRequired(_l("Choose what you need."))])
    description = TextAreaField(_l("Describe the problem"), validators=[
        InputRequired(_l("Describe the problem.")), Length(min=10, max=5000)])
    shop_id = HiddenField()
    consent = BooleanField(_l("I agree that the portal stores these details to handle my "
                              "request, and shares them with the shop that takes it on."),
                           validators=[DataRequired(
                               _l("Please agree, so that we can handle your request."))])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.vin.data or "").strip() and not self.model.data:
            self.vin.errors = [*self.vin.errors, NO_VEHICLE]
            valid = False
        return valid


class CaseLookupForm(FlaskForm):
    reference = StringField(_l("Case reference"), validators=[
        InputRequired(_l("Enter the case reference.")), Length(max=20)])
    email = EmailField(_l("Email address"), validators=[
        InputRequired(_l("Enter your email address.")), Length(max=254), _valid_email])


class CaseChangeForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])
    status = SelectField(_l("Status"), validators=[Optional()])
    priority = SelectField(_l("Priority"), choices=list(PRIORITIES), validators=[Optional()])
    shop_id = IntegerField(_l("Shop number"),
                           validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])
    assignee = SelectField(_l("Assignee"), validators=[Optional()])
    bulletin_codes = SelectMultipleField(_l("Linked bulletins"), validators=[Optional()])


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[InputRequired(), Length(max=5000)],
                         render_kw={"rows": 8, "dir": "auto"})
    # "y" is an internal note (as the checkbox this replaced sent); empty or absent, a reply
    # the owner reads.
    internal = RadioField(_l("Who reads it"), default="y", validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.internal.choices = [("", _l("Public reply: the owner reads it")),
                                 ("y", _l("Internal note: staff and the shop only"))]
        if getattr(self.internal, "raw_data", None) == []:  # sent without a choice: public
            self.internal.data = ""


class CannedReplyForm(FlaskForm):
    version = HiddenField()
    locale = SelectField(_l("Language"), validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[InputRequired(), Length(max=100)])
    body = TextAreaField(_l("Text"), validators=[InputRequired(), Length(max=5000)],
                         description=_l("{name} becomes the owner's name, {reference} the "
                                        "case reference."))
    active = BooleanField(_l("Offered to staff"), default=True)


class PrivacyForm(FlaskForm):
    email = EmailField(_l("Owner's email address"),
                       validators=[InputRequired(), Length(max=254)])
    confirm = BooleanField(_l("Yes, erase this owner's personal data for good"))
