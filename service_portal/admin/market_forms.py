"""The admin form of a market (Flask-WTF: it carries a CSRF token). The rules are the
markets domain's (`markets.services.check_market`); the form only carries the values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import InputRequired, Length

from .forms import VersionedForm


class _Checkboxes(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class MarketForm(VersionedForm):
    time_zone = SelectField(_l("Time zone of support"), validate_choice=False)
    workdays = _Checkboxes(_l("Working days"), coerce=str, validate_choice=False)
    opens = StringField(_l("Support opens"), validators=[InputRequired(), Length(max=5)],
                        render_kw={"type": "time"})
    closes = StringField(_l("Support closes"), validators=[InputRequired(), Length(max=5)],
                         render_kw={"type": "time"})
    languages = _Checkboxes(_l("Support languages"), coerce=str, validate_choice=False)
    currency = SelectField(_l("Currency"), validate_choice=False)
    distance_unit = SelectField(_l("Distance unit"), validate_choice=False)
    retention_days = StringField(_l("Keep a closed case's personal data for (days)"),
                                 validators=[InputRequired(), Length(max=5)],
                                 render_kw={"inputmode": "numeric"})
    recall_authority = StringField(_l("Recall authority"), validators=[Length(max=200)])
    recall_url = StringField(_l("Public recall page"), validators=[Length(max=300)],
                             render_kw={"type": "url"})
    rmi_note = TextAreaField(_l("Repair and maintenance information (RMI) access for "
                                "independent shops"), validators=[Length(max=4000)])
    takeback_rules = TextAreaField(_l("Battery take-back rules"),
                                   validators=[Length(max=4000)])
