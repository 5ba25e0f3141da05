"""Admin pages for the reference catalog: brands, models and services, each listed with
search, sorting and paging, created and edited (versioned) with names in every portal
language. The rules and audit entries are the catalog's services (`admin_services`)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..catalog.admin_services import (
    create_brand,
    create_model,
    create_service,
    update_brand,
    update_model,
    update_service,
)
from ..catalog.models import POWERTRAINS, Brand, Service, VehicleModel
from ..catalog.queries import (
    BRAND_SORTS,
    MODEL_SORTS,
    SERVICE_SORTS,
    list_brands,
    list_models,
    list_services,
)
from ..db import get_session
from ..errors import Conflict, PortalError
from ..names import brand_name, vocab
from ..security import current_actor
from .blueprint import PAGE_SIZE, admin_only, bp
from .forms import BrandForm, ModelForm, ServiceForm
from .list_args import choice, list_args

#: kind -> (row table, form, create, update, list endpoint).
KINDS = {
    "brand": (Brand, BrandForm, create_brand, update_brand, ".catalog"),
    "model": (VehicleModel, ModelForm, create_model, update_model, ".catalog_models"),
    "service": (Service, ServiceForm, create_service, update_service, ".catalog_services"),
}


@bp.get("/catalog")
@admin_only
def catalog():
    """Brands with their number of models: `q`, `sort`, `offset`."""
    text, sort, offset = list_args(request.args, filters=(), sorts=BRAND_SORTS,
                                   default_sort="name")
    total, rows = list_brands(get_session(), text=text, sort=sort.removeprefix("-"),
                              descending=sort.startswith("-"), offset=offset, limit=PAGE_SIZE)
    return render_template("admin/catalog_brands.html", rows=rows, total=total, offset=offset,
                           page_size=PAGE_SIZE, sort=sort, text=text,
                           kept={"q": text} if text else {})


@bp.get("/catalog/models")
@admin_only
def catalog_models():
    """Models: `q`, `brand`, `powertrain`, `sort`, `offset`."""
    args = request.args
    text, sort, offset = list_args(args, filters=("brand", "powertrain"), sorts=MODEL_SORTS,
                                   default_sort="name")
    session = get_session()
    brands = session.execute(select(Brand.slug, Brand.name).order_by(Brand.name)).all()
    brand = choice(args, "brand", {slug for slug, _name in brands})
    powertrain = choice(args, "powertrain", POWERTRAINS)
    total, rows = list_models(session, text=text, brand=brand, powertrain=powertrain,
                              sort=sort.removeprefix("-"), descending=sort.startswith("-"),
                              offset=offset, limit=PAGE_SIZE)
    kept = {k: v for k, v in (("q", text), ("brand", brand), ("powertrain", powertrain)) if v}
    return render_template("admin/catalog_models.html", rows=rows, total=total,
                           offset=offset, page_size=PAGE_SIZE, sort=sort, text=text,
                           brand=brand, powertrain=powertrain, brands=[s for s, _n in brands],
                           powertrains=POWERTRAINS, kept=kept)


@bp.get("/catalog/services")
@admin_only
def catalog_services():
    """Services: `q`, `sort`, `offset`."""
    text, sort, offset = list_args(request.args, filters=(), sorts=SERVICE_SORTS,
                                   default_sort="name")
    total, rows = list_services(get_session(), text=text, sort=sort.removeprefix("-"),
                                descending=sort.startswith("-"), offset=offset,
                                limit=PAGE_SIZE)
    return render_template("admin/catalog_services.html", rows=rows, total=total,
                           offset=offset, page_size=PAGE_SIZE, sort=sort, text=text,
                           kept={"q": text} if text else {})


@bp.route("/catalog/brands/new", methods=["GET", "POST"])
@admin_only
def new_brand():
    return _edit("brand", None)


@bp.route("/catalog/brands/<code>/edit", methods=["GET", "POST"])
@admin_only
def brand(code: str):
    return _edit("brand", code)


@bp.route("/catalog/models/new", methods=["GET", "POST"])
@admin_only
def new_model():
    return _edit("model", None)


@bp.route("/catalog/models/<code>/edit", methods=["GET", "POST"])
@admin_only
def model(code: str):
    return _edit("model", code)


@bp.route("/catalog/services/new", methods=["GET", "POST"])
@admin_only
def new_service():
    return _edit("service", None)


@bp.route("/catalog/services/<code>/edit", methods=["GET", "POST"])
@admin_only
def service(code: str):
    return _edit("service", code)


def _edit(kind: str, slug: str | None):
    """The create (slug None) or edit form of one row; a refused form is re-shown with
    its errors (422), a stale one with the conflict (409), and nothing is stored."""
    table, form_class, create, update, list_endpoint = KINDS[kind]
    session = get_session()
    row = None
    if slug is not None:
        row = session.scalar(select(table).where(table.slug == slug[:80]))
        if row is None:
            abort(404)
    form = form_class()
    if kind == "model":
        form.brand.choices = [(s, brand_name(s)) for s in session.scalars(
            select(Brand.slug).order_by(Brand.name))]
        form.powertrain.choices = [(code, vocab("powertrain", code)) for code in POWERTRAINS]
    if row is not None:  # the slug (and a model's brand, which it names) is fixed
        del form.slug
        if kind == "model":
            del form.brand
    if request.method == "GET" and row is not None:
        form.process(data=_form_data(kind, row))
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            values = _values(form)
            version = int(form.version.data) if (form.version.data or "").isdigit() else None
            try:
                if row is None:
                    row = create(session, values=values, actor=current_actor())
                else:
                    update(session, row, version=version, values=values,
                           actor=current_actor())
            except PortalError as exc:
                session.rollback()
                status = exc.status
                target = getattr(form, exc.field or "", None) if exc.field else None
                if isinstance(exc, Conflict) or target is None or exc.field == "version":
                    flash(str(exc.message or exc.default_message), "error")
                else:
                    target.errors = [*target.errors, str(exc.message or exc.default_message)]
                row = session.scalar(select(table).where(table.slug == slug)) if slug else None
            else:
                flash(_("Saved."), "success")
                return redirect(url_for(list_endpoint), 303)
    model_brand = (session.scalar(select(Brand.slug).where(Brand.id == row.brand_id))
                   if kind == "model" and row is not None else None)
    return render_template("admin/catalog_form.html", form=form, row=row, kind=kind,
                           list_endpoint=list_endpoint, model_brand=model_brand), status


def _form_data(kind: str, row) -> dict:
    data = {"slug": row.slug, "name": row.name, "version": row.version,
            **{f"name_{code}": (row.names or {}).get(code, "") for code in BrandForm.name_locales}}
    if kind == "brand":
        data.update(parent_group=row.parent_group, website=row.website)
    elif kind == "model":
        brand_slug = get_session().scalar(select(Brand.slug).where(Brand.id == row.brand_id))
        data.update(brand=brand_slug, year_from=row.year_from, year_to=row.year_to,
                    powertrain=row.powertrain, battery_chemistry=row.battery_chemistry,
                    body=row.body)
    return data


def _values(form) -> dict:
    """What the form says, by the names the services take (`names` by locale)."""
    skip = {"csrf_token", "version"} | {f"name_{code}" for code in form.name_locales}
    values = {name: field.data for name, field in form._fields.items() if name not in skip}
    values["names"] = {code: form[f"name_{code}"].data or "" for code in form.name_locales}
    return values
