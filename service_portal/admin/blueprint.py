"""The admin blueprint and its guard: every admin page module registers its routes here,
so the area has one URL prefix, one role check and one list page size."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

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
