"""Browser forms for dealers' stock (Flask-WTF, CSRF on every one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from .schemas import MAX_QTY


class StockLineForm(FlaskForm):
    """Inline edit of one stock line: the version read travels along (optimistic)."""

    qty = IntegerField(_l("Quantity"), validators=[InputRequired(), NumberRange(0, MAX_QTY)])
    min_qty = IntegerField(_l("Minimum"),
                           validators=[InputRequired(), NumberRange(0, MAX_QTY)])
    version = HiddenField(validators=[InputRequired()])


class UploadForm(FlaskForm):
    file = FileField(_l("Stock file (CSV or XLSX)"), validators=[FileRequired()])


class CommitForm(FlaskForm):
    """Confirms a previewed upload."""
