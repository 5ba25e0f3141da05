"""Forms of the admin area (Flask-WTF: each carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from ..users.forms import NewPasswordForm

__all__ = ["InviteForm", "MergeForm", "NewPasswordForm", "OrganizationForm", "RenameForm",
           "ShopForm", "UserActionForm", "VersionForm"]


class UserActionForm(FlaskForm):
    """Disable, enable or sign out a user: a POST with a CSRF token and nothing else."""


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), validate_choice=True)
    organization = SelectField(_l("Organisation (dealers)"), validate_choice=True)
    locale = SelectField(_l("Language of the invitation"), validate_choice=True)


class VersionForm(FlaskForm):
    """Deactivate or reactivate a row: the version the page showed (a stale one is a 409)."""

    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,9}$")])


class OrganizationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Slug (lower-case letters, digits and hyphens)"),
                       validators=[Optional(), Length(max=80)])
    country = SelectField(_l("Country"), validate_choice=True)


class RenameForm(VersionForm):
    name = StringField(_l("New name"), validators=[DataRequired(), Length(max=200)])


class ShopForm(FlaskForm):
    """A new shop: the columns of the shops CSV (CONTRACT section 3), checked by the import's
    own rules (`shops.schemas.parse_shop_row`), so the limits here only bound the input."""

    organization = SelectField(_l("Organisation"), coerce=int, validate_choice=True)
    external_id = StringField(_l("External id"), validators=[DataRequired(), Length(max=80)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    services = SelectMultipleField(_l("Services"), coerce=str,
                                   widget=widgets.ListWidget(prefix_label=False),
                                   option_widget=widgets.CheckboxInput())
    languages = StringField(_l("Languages spoken"), validators=[Length(max=200)])
    address = StringField(_l("Address"), validators=[Length(max=300)])
    city = StringField(_l("City"), validators=[Length(max=120)])
    postal_code = StringField(_l("Postal code"), validators=[Length(max=20)])
    country = SelectField(_l("Country"), validate_choice=True)
    lat = StringField(_l("Latitude"), validators=[DataRequired(), Length(max=40)])
    lon = StringField(_l("Longitude"), validators=[DataRequired(), Length(max=40)])
    timezone = StringField(_l("Time zone (empty: from the coordinates)"),
                           validators=[Length(max=64)])
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
    email = StringField(_l("Email"), validators=[Length(max=254)])
    website = StringField(_l("Website"), validators=[Length(max=300)])
    opening_hours = StringField(_l("Opening hours (OpenStreetMap syntax)"),
                                validators=[Length(max=500)])
    hv_level = SelectField(_l("High-voltage qualification"), validate_choice=True)
    hv_valid_until = StringField(_l("Qualification valid until (YYYY-MM-DD)"),
                                 validators=[Length(max=10)])

    #: The CSV columns this form fills, in the file's order.
    COLUMNS = ("external_id", "name", "brands", "services", "languages", "address", "city",
               "postal_code", "country", "lat", "lon", "timezone", "phone", "email",
               "website", "opening_hours", "hv_level", "hv_valid_until")

    def as_row(self, brand_levels: dict[str, str]) -> dict[str, str]:
        """The form as one row of the shops CSV (lists `;`-separated), with the level
        chosen for each brand (`{"byd": "authorized"}`) as its `brands` column."""
        row = {"brands": ";".join(f"{slug}:{level}" for slug, level in brand_levels.items())}
        for column in self.COLUMNS:
            if column == "brands":
                continue
            value = getattr(self, column).data
            row[column] = ";".join(value) if isinstance(value, list) else (value or "")
        row["languages"] = row["languages"].replace(",", ";")
        return row


class MergeForm(VersionForm):
    # Any id passes the form: the service says why a shop cannot be the one kept.
    kept = SelectField(_l("Shop to keep"), coerce=int, validate_choice=False)


# --- the catalog and the WMI table ------------------------------------------------------

class VersionedForm(FlaskForm):
    """An edit of a stored row: the version it was read at travels along (stale: 409)."""

    version = HiddenField()


def _name_fields(cls):
    """One field per portal language other than English (`name_zh_Hans`, ...), labelled
    with the language's own name, for a row's translated `names`."""
    from babel import Locale

    from ..catalog.admin_services import NAME_LOCALES

    for code in NAME_LOCALES:
        label = Locale.parse(code).get_display_name(code)
        setattr(cls, f"name_{code}", StringField(label[:1].upper() + label[1:],
                                                 validators=[Length(max=120)]))
    cls.name_locales = NAME_LOCALES
    return cls


_SLUG = [InputRequired(), Length(max=80)]


@_name_fields
class BrandForm(VersionedForm):
    slug = StringField(_l("Slug"), validators=_SLUG)
    name = StringField(_l("Name (English)"), validators=[InputRequired(), Length(max=80)])
    parent_group = StringField(_l("Group"), validators=[Length(max=120)])
    website = StringField(_l("Website"), validators=[Length(max=300)])


@_name_fields
class ModelForm(VersionedForm):
    slug = StringField(_l("Slug"), validators=_SLUG)
    brand = SelectField(_l("Brand"), validate_choice=True)
    name = StringField(_l("Name (English)"), validators=[InputRequired(), Length(max=80)])
    year_from = IntegerField(_l("First model year"), validators=[InputRequired()])
    year_to = IntegerField(_l("Last model year (empty: still built)"),
                           validators=[Optional()])
    powertrain = SelectField(_l("Powertrain"), validate_choice=True)
    battery_chemistry = StringField(_l("Battery chemistry (code, e.g. lfp or nmc)"),
                                    validators=[InputRequired(), Length(max=20)])
    body = StringField(_l("Body (code, e.g. suv or sedan)"), validators=[Length(max=30)])


@_name_fields
class ServiceForm(VersionedForm):
    slug = StringField(_l("Slug"), validators=_SLUG)
    name = StringField(_l("Name (English)"), validators=[InputRequired(), Length(max=120)])


class WmiForm(VersionedForm):
    code = StringField(_l("WMI (first three characters of the VIN)"),
                       validators=[InputRequired(), Length(max=3)])
    brands = SelectMultipleField(_l("Brands"), coerce=str,
                                 widget=widgets.ListWidget(prefix_label=False),
                                 option_widget=widgets.CheckboxInput())
    source = StringField(_l("Public source"), validators=[InputRequired(), Length(max=500)])
    note = TextAreaField(_l("Note"), validators=[Length(max=1000)])


class ConfirmForm(VersionedForm):
    """A confirmed deletion of a row at the version shown."""


class PartsUploadForm(FlaskForm):
    file = FileField(_l("Parts file (CSV or XLSX)"), validators=[FileRequired()])
