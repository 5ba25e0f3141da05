"""The staff bulletin editor's form (Flask-WTF). It reads types only; the rules are those of
`BulletinIn` and `upsert_bulletin`, shared with the staff API, and their errors are shown
next to the fields they concern."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from pydantic import ValidationError
from wtforms import (
    DateField,
    Field,
    Form,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional

from .. import fields
from ..config import SUPPORTED_LOCALES
from ..vocabulary import BULLETIN_KINDS as BULLETIN_KINDS_LABELS
from ..vocabulary import SEVERITIES as SEVERITY_LABELS
from .models import BULLETIN_KINDS, SEVERITIES
from .schemas import BulletinIn

#: Readers' names for the codes of a bulletin.
TEXT_PARTS = ("title", "summary", "body")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class BulletinTextForm(Form):
    """One language's texts (a sub-form: the CSRF token is the outer form's)."""

    title = StringField(_l("Title"), filters=[_strip])
    summary = TextAreaField(_l("Summary"), filters=[_strip], render_kw={"rows": 3})
    body = TextAreaField(_l("Body (Markdown)"), filters=[_strip], render_kw={"rows": 12})

    def filled(self) -> bool:
        return any(getattr(self, part).data for part in TEXT_PARTS)


class BulletinTextsForm(Form):
    """One `BulletinTextForm` per portal locale, named after it (`texts-pt_BR-title`)."""


for _locale in SUPPORTED_LOCALES:
    setattr(BulletinTextsForm, _locale, FormField(BulletinTextForm))
del _locale


class BulletinForm(FlaskForm):
    code = StringField(_l("Code"), filters=[lambda v: v.strip().upper() if v else v],
                       render_kw={"autocapitalize": "characters", "spellcheck": "false"})
    kind = SelectField(_l("Kind"),
                       choices=[SelectChoice(k, BULLETIN_KINDS_LABELS[k]) for k in BULLETIN_KINDS])
    brand = SelectField(_l("Brand"))
    models = SelectMultipleField(_l("Models (none chosen: every model of the brand)"),
                                 render_kw={"size": 8})
    year_from = IntegerField(_l("First model year (empty: no limit)"),
                             validators=[Optional()], render_kw={"inputmode": "numeric"})
    year_to = IntegerField(_l("Last model year (empty: no limit)"),
                           validators=[Optional()], render_kw={"inputmode": "numeric"})
    countries = StringField(_l("Countries (ISO codes separated by commas; empty: every "
                               "country)"), filters=[_strip])
    severity = SelectField(_l("Severity"),
                           choices=[SelectChoice(s, SEVERITY_LABELS[s]) for s in SEVERITIES])
    published = DateField(_l("Published"), validators=[InputRequired()])
    texts = FormField(BulletinTextsForm)

    def locale_forms(self) -> list[tuple[str, BulletinTextForm]]:
        return [(locale, self.texts[locale].form) for locale in SUPPORTED_LOCALES]

    def payload(self, code: str) -> dict[str, Any]:
        """The bulletin JSON of CONTRACT section 6, from the form's data."""
        return {
            "code": code, "kind": self.kind.data, "brand": self.brand.data,
            "models": list(self.models.data or []), "year_from": self.year_from.data,
            "year_to": self.year_to.data,
            "countries": [c.strip() for c in (self.countries.data or "").replace(";", ",")
                          .split(",") if c.strip()],
            "severity": self.severity.data, "published": self.published.data,
            "texts": {locale: {part: getattr(form, part).data or "" for part in TEXT_PARTS}
                      for locale, form in self.locale_forms() if form.filled()},
        }

    def to_bulletin(self, code: str) -> BulletinIn | None:
        """The checked bulletin, or None with each error added to its field."""
        try:
            return BulletinIn.model_validate(self.payload(code))
        except ValidationError as exc:
            for err in exc.errors():
                self.add_error(self._field_for(err["loc"]), _message(err))
            return None

    def add_error(self, field: Field, message: str) -> None:
        field.errors = [*field.errors, message]

    def _field_for(self, loc: tuple) -> Field:
        if not loc:  # the schema's check across fields: the years
            return self.year_to
        if loc[0] == "texts":
            locale = loc[1] if len(loc) > 1 and loc[1] in SUPPORTED_LOCALES else "en"
            part = loc[2] if len(loc) > 2 and loc[2] in TEXT_PARTS else "title"
            return getattr(self.texts[locale].form, part)
        return getattr(self, str(loc[0]), self.code)


def _message(err: dict) -> str:
    """A translated sentence for a schema error (pydantic's own are English)."""
    kind, ctx, loc = err.get("type", ""), err.get("ctx") or {}, err.get("loc") or ()
    if not loc:
        return _("The last model year is before the first.")
    if loc == ("texts",):
        return _("An English title, summary and body are required.")
    if kind in ("missing", "string_too_short"):
        return _("This value is required.")
    if kind == "string_too_long":
        return _("At most %(max)s characters.", max=ctx.get("max_length"))
    if kind == "string_pattern_mismatch":
        return _("Capital letters, digits and hyphens only, for example BYD-R-2026-001.")
    if kind == "greater_than_equal":
        return _("Must be %(min)s or later.", min=ctx.get("ge"))
    if kind == "less_than_equal":
        return _("Must be %(max)s or earlier.", max=ctx.get("le"))
    if kind == "too_long":
        return _("Too many values.")
    if kind == "value_error" and isinstance(ctx.get("error"), fields.Refused):
        return str(ctx["error"])
    if kind == "value_error" and isinstance(ctx.get("error"), ValueError) and loc[0] != "texts":
        return str(ctx["error"])  # the shared field checks raise translated messages
    return _("Not a valid value.")
