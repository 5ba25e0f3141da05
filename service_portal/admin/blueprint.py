"""The admin blueprint and its guard: every admin page module registers its routes here,
so the area has one URL prefix, one role check and one list page size."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, url_for
from flask_babel import lazy_gettext as _l

from ..security import holds_personal_data, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")
holds_personal_data(bp)
#: Every admin route's guard: signed in, role admin (403 for anyone else).
admin_only = role_required("admin")
#: Rows per page on the admin list pages.
PAGE_SIZE = 50


@bp.get("/")
@admin_only
def index():
    return redirect(url_for(".users"))


#: The admin area's sections, in the order of its sub-navigation (endpoint, label).
SECTIONS = (
    ("admin.users", _l("Users")),
    ("admin.organizations", _l("Organisations")),
    ("admin.shops", _l("Shops")),
    ("admin.catalog", _l("Brands, models and services")),
    ("admin.wmi_codes", _l("WMI codes")),
    ("admin.parts_catalog", _l("Parts catalog")),
    ("admin.markets", _l("Markets")),
)


@bp.app_context_processor
def _admin_sections() -> dict:
    """`admin_sections`: the sections this app serves, for templates/admin/_nav.html."""
    return {"admin_sections": [(endpoint, label) for endpoint, label in SECTIONS
                               if endpoint in current_app.view_functions]}
