"""Admin pages for shops: find one, add one to an organisation, deactivate or reactivate it,
merge a duplicate into the shop to keep. The rules and the audit entries are the shops
domain's (`shops.admin_services`)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..catalog.models import Brand, Service
from ..db import get_session
from ..errors import PortalError
from ..i18n import country_choices
from ..names import brand_name, service_name, vocab
from ..security import current_actor
from ..shops.admin_services import create_shop, merge_shops, set_shop_active
from ..shops.models import AUTH_LEVELS, HV_LEVELS
from ..tabular import ImportFailed
from .blueprint import PAGE_SIZE, admin_only, bp
from .forms import MergeForm, ShopForm, VersionForm
from .list_args import country_code, list_args, number, state_flag
from .queries import SHOP_SORTS, list_shops, organization_choices, shop_countries, shop_details


@bp.get("/shops")
@admin_only
def shops():
    """The shop list: `q` (name, external id or city), `organization` (an id), `country`,
    `state`, `sort` (a column, `-` first for descending) and `offset`; anything else is a
    400."""
    args = request.args
    text, sort, offset = list_args(args, filters=("organization", "country", "state"),
                                   sorts=SHOP_SORTS, default_sort="name")
    organization = number(args, "organization")
    country = country_code(args)
    state, active = state_flag(args)
    db = get_session()
    total, rows = list_shops(db, text=text, organization_id=organization, country=country,
                             active=active, sort=sort.removeprefix("-"),
                             descending=sort.startswith("-"), offset=offset, limit=PAGE_SIZE)
    kept = {k: v for k, v in (("q", text), ("organization", organization),
                              ("country", country), ("state", state)) if v}
    return render_template("admin/shops.html", rows=rows, total=total, offset=offset,
                           page_size=PAGE_SIZE, sort=sort, kept=kept, text=text,
                           organization=organization, country=country, state=state,
                           organizations=organization_choices(db),
                           countries=shop_countries(db))


@bp.route("/shops/new", methods=["GET", "POST"])
@admin_only
def new_shop():
    """A new shop of an organisation (`?organization=<id>` chooses it), with the fields and
    the checks of the shops CSV import."""
    db = get_session()
    form = ShopForm()
    form.organization.choices = organization_choices(db)
    form.country.choices = country_choices()
    form.hv_level.choices = [(code, vocab("hv", code)) for code in HV_LEVELS]
    form.services.choices = [(slug, service_name(slug))
                             for slug in db.scalars(select(Service.slug).order_by(Service.id))]
    brands = sorted(((slug, brand_name(slug)) for slug in db.scalars(select(Brand.slug))),
                    key=lambda pair: pair[1].casefold())
    # One level select per brand (`brand-<slug>`); empty: the shop does not work on it.
    levels = {slug: request.form.get(f"brand-{slug}", "") for slug, _name in brands}
    levels = {slug: level for slug, level in levels.items() if level}  # the import checks
    brand_errors: list[str] = []
    if request.method == "GET":
        form.organization.data = number(request.args, "organization")
    if form.validate_on_submit():
        try:
            shop = create_shop(db, form.organization.data, form.as_row(levels),
                               actor=current_actor())
        except ImportFailed as exc:
            for error in exc.errors:
                if error.column == "brands":
                    brand_errors.append(error.message)
                    continue
                target = getattr(form, error.column or "", None) or form.external_id
                target.errors = [*target.errors, error.message]
        except PortalError as exc:
            target = getattr(form, exc.field or "", None) or form.external_id
            target.errors = [exc.message or str(exc)]
        else:
            flash(_("The shop %(name)s is created and in the owner search.", name=shop.name),
                  "success")
            return redirect(url_for(".shop", shop_id=shop.id), 303)
    return render_template("admin/shop_new.html", form=form, brands=brands, levels=levels,
                           auth_levels=AUTH_LEVELS, brand_errors=brand_errors), \
        422 if form.errors or brand_errors else 200


@bp.get("/shops/<id:shop_id>")
@admin_only
def shop(shop_id: int):
    return _page(shop_id, MergeForm(formdata=None))


@bp.post("/shops/<id:shop_id>/deactivate")
@admin_only
def deactivate_shop(shop_id: int):
    return _set_active(shop_id, False)


@bp.post("/shops/<id:shop_id>/activate")
@admin_only
def activate_shop(shop_id: int):
    return _set_active(shop_id, True)


@bp.post("/shops/<id:shop_id>/merge")
@admin_only
def merge_shop(shop_id: int):
    """Merge this shop (the duplicate) into the chosen one of its organisation."""
    details = _details(shop_id)
    form = _merge_form(details)
    if not form.validate_on_submit():
        return _page(shop_id, form), 422
    try:
        counts = merge_shops(get_session(), duplicate_id=shop_id, kept_id=form.kept.data,
                             version=int(form.version.data), actor=current_actor())
    except PortalError as exc:
        if exc.status == 409:
            raise
        form.kept.errors = [exc.message or str(exc)]
        return _page(shop_id, form), exc.status
    flash(_("The shop is merged and deactivated. Moved to the kept shop: %(stock)s stock "
            "lines, %(cases)s cases, %(credentials)s pieces of evidence. %(dropped)s stock "
            "lines of parts the kept shop already held were removed; the kept shop's lines "
            "stay as they were.", stock=counts["stock_moved"], cases=counts["cases"],
            credentials=counts["credentials"], dropped=counts["stock_dropped"]), "success")
    return redirect(url_for(".shop", shop_id=form.kept.data), 303)


def _set_active(shop_id: int, active: bool):
    _details(shop_id)
    form = VersionForm()
    if not form.validate_on_submit():
        flash(_("The form was incomplete; nothing was changed. Please try again."), "error")
        return _page(shop_id, MergeForm(formdata=None)), 422
    set_shop_active(get_session(), shop_id, active=active, version=int(form.version.data),
                    actor=current_actor())
    flash(_("The shop is back in the owner search.") if active else
          _("The shop is deactivated: owners no longer find it."), "success")
    return redirect(url_for(".shop", shop_id=shop_id), 303)


def _details(shop_id: int):
    details = shop_details(get_session(), shop_id)
    if details is None:
        abort(404)
    return details


def _merge_form(details, form: MergeForm | None = None) -> MergeForm:
    form = form or MergeForm()
    form.kept.choices = [(s.id, f"{s.name} ({s.external_id})") for s in details.siblings]
    return form


def _page(shop_id: int, merge_form: MergeForm):
    details = _details(shop_id)
    _merge_form(details, merge_form)
    if merge_form.version.data in (None, ""):
        merge_form.version.data = details.shop.version
    return render_template("admin/shop.html", d=details, merge_form=merge_form,
                           action_form=VersionForm(data={"version": details.shop.version}))
