"""The dealer's upload forms (one per kind of evidence) and the staff review form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from .models import CERTIFICATE_LEVELS


class _UploadForm(FlaskForm):
    """Both upload forms share one page, told apart by a prefix; the app-wide CSRF check
    reads the page's one `csrf_token` field, so the prefixed forms carry none of their own."""

    class Meta:
        csrf = False


class BrandEvidenceForm(_UploadForm):
    brand = SelectField(_l("Brand"), coerce=int, validators=[InputRequired()])
    document = RadioField(_l("Document"), choices=[
        SelectChoice("contract", _l("Dealer or service contract with the brand")),
        SelectChoice("certificate", _l("Certificate from the brand"))],
        validators=[InputRequired()])
    issuer = StringField(_l("Issued by"), validators=[Optional(), Length(max=200)])
    valid_until = DateField(_l("Valid until (if it says)"), validators=[Optional()])
    file = FileField(_l("Document (PDF, PNG or JPEG)"), validators=[FileRequired()])


class HvCertificateForm(_UploadForm):
    technician = StringField(_l("Technician"), validators=[DataRequired(), Length(max=120)])
    hv_level = SelectField(_l("Level"), choices=list(CERTIFICATE_LEVELS),
                           validators=[InputRequired()])
    issuer = StringField(_l("Issued by"), validators=[DataRequired(), Length(max=200)])
    valid_until = DateField(_l("Valid until"), validators=[InputRequired()])
    file = FileField(_l("Certificate (PDF, PNG or JPEG)"), validators=[FileRequired()])


class ReviewForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])
    reason = TextAreaField(_l("Reason (the dealer reads it; required to reject)"),
                           validators=[Optional(), Length(max=500)])
