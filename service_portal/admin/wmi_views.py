"""Admin pages for the WMI table (the first three characters of a VIN and the brands they
name, with the public source that says so): list, add, edit and delete (confirmed).
The rules and audit entries are the catalog's services (`admin_services`)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..catalog.admin_services import check_wmi_code, create_wmi, delete_wmi, update_wmi
from ..catalog.models import Brand, WmiCode
from ..catalog.queries import list_wmi_codes
from ..db import get_session
from ..errors import Conflict, PortalError
from ..names import brand_name
from ..security import current_actor
from .blueprint import PAGE_SIZE, admin_only, bp
from .forms import ConfirmForm, WmiForm
from .list_args import choice, list_args


@bp.get("/wmi")
@admin_only
def wmi_codes():
    """The WMI table: `q` (in code, source or note), `brand`, `sort` (`code`, `-code`)."""
    args = request.args
    text, sort, offset = list_args(args, filters=("brand",), sorts=("code",),
                                   default_sort="code")
    session = get_session()
    brands = list(session.scalars(select(Brand.slug).order_by(Brand.name)))
    brand = choice(args, "brand", set(brands))
    total, rows = list_wmi_codes(session, text=text, brand=brand,
                                 descending=sort.startswith("-"), offset=offset,
                                 limit=PAGE_SIZE)
    kept = {k: v for k, v in (("q", text), ("brand", brand)) if v}
    return render_template("admin/wmi.html", rows=rows, total=total, offset=offset,
                           page_size=PAGE_SIZE, sort=sort, text=text, brand=brand,
                           brands=brands, kept=kept)


@bp.route("/wmi/new", methods=["GET", "POST"])
@admin_only
def new_wmi():
    return _edit(None)


@bp.route("/wmi/<code>", methods=["GET", "POST"])
@admin_only
def wmi(code: str):
    return _edit(_row(code))


@bp.route("/wmi/<code>/delete", methods=["GET", "POST"])
@admin_only
def delete_wmi_code(code: str):
    """A page asking to confirm; its POST deletes the row at the version it showed."""
    row = _row(code)
    form = ConfirmForm()
    status = 200
    if request.method == "GET":
        form.version.data = row.version
    elif form.validate_on_submit():
        version = int(form.version.data) if (form.version.data or "").isdigit() else None
        try:
            delete_wmi(get_session(), row, version=version, actor=current_actor())
        except PortalError as exc:
            get_session().rollback()
            flash(str(exc.message or exc.default_message), "error")
            status, row = exc.status, _row(code)
        else:
            flash(_("The WMI %(code)s is deleted.", code=code), "success")
            return redirect(url_for(".wmi_codes"), 303)
    else:
        status = 422
    return render_template("admin/wmi_delete.html", row=row, form=form), status


def _row(code: str) -> WmiCode:
    try:
        code = check_wmi_code(code)
    except PortalError:
        abort(404)
    row = get_session().get(WmiCode, code)
    if row is None:
        abort(404)
    return row


def _edit(row: WmiCode | None):
    session = get_session()
    form = WmiForm()
    form.brands.choices = [(slug, brand_name(slug)) for slug in session.scalars(
        select(Brand.slug).order_by(Brand.name))]
    if row is not None:
        del form.code  # the code is the row's key: delete and add to change it
    if request.method == "GET" and row is not None:
        form.process(data={"brands": row.brands, "source": row.source, "note": row.note,
                           "version": row.version})
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            values = {"brands": form.brands.data, "source": form.source.data,
                      "note": form.note.data or ""}
            version = int(form.version.data) if (form.version.data or "").isdigit() else None
            code = row.code if row is not None else None
            try:
                if row is None:
                    create_wmi(session, code=form.code.data, values=values,
                               actor=current_actor())
                else:
                    update_wmi(session, row, version=version, values=values,
                               actor=current_actor())
            except PortalError as exc:
                session.rollback()
                status = exc.status
                target = getattr(form, exc.field or "", None) if exc.field else None
                if isinstance(exc, Conflict) or target is None:
                    flash(str(exc.message or exc.default_message), "error")
                else:
                    target.errors = [*target.errors, str(exc.message or exc.default_message)]
                row = session.get(WmiCode, code) if code else None
            else:
                flash(_("Saved."), "success")
                return redirect(url_for(".wmi_codes"), 303)
    return render_template("admin/wmi_form.html", form=form, row=row), status
