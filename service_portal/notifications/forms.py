"""The email settings form (Flask-WTF, with its CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField


class EmailChoicesForm(FlaskForm):
    locale = SelectField(_l("Language of your emails"), validate_choice=True)
    new_cases = BooleanField(_l("New cases"))
    sla_warnings = BooleanField(_l("Cases due within the hour"))
    assignments = BooleanField(_l("Cases assigned to me"))
    countries = SelectMultipleField(_l("Only in these countries"), validate_choice=True)
    brands = SelectMultipleField(_l("Only of these brands"), validate_choice=True)
