"""Admin pages for organisations: find one, create one, rename it, deactivate or reactivate
it. The rules and the audit entries are the shops domain's (`shops.admin_services`)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ..db import get_session
from ..errors import PortalError
from ..i18n import country_choices
from ..security import current_actor
from ..shops.admin_services import (
    create_organization,
    organization_or_404,
    rename_organization,
    set_organization_active,
)
from .blueprint import PAGE_SIZE, admin_only, bp
from .forms import OrganizationForm, RenameForm, VersionForm
from .list_args import country_code, list_args, state_flag
from .queries import (
    ORGANIZATION_SORTS,
    list_organizations,
    organization_countries,
    organization_members,
)


@bp.get("/organizations")
@admin_only
def organizations():
    """The organisation list: `q` (name or slug), `state`, `country`, `sort` (a column,
    `-` first for descending) and `offset`; anything else is a 400."""
    args = request.args
    text, sort, offset = list_args(args, filters=("state", "country"),
                                   sorts=ORGANIZATION_SORTS, default_sort="name")
    state, active = state_flag(args)
    country = country_code(args)
    db = get_session()
    total, rows = list_organizations(db, text=text, active=active, country=country,
                                     sort=sort.removeprefix("-"),
                                     descending=sort.startswith("-"), offset=offset,
                                     limit=PAGE_SIZE)
    kept = {k: v for k, v in (("q", text), ("state", state), ("country", country)) if v}
    return render_template("admin/organizations.html", rows=rows, total=total, offset=offset,
                           page_size=PAGE_SIZE, sort=sort, kept=kept, text=text, state=state,
                           country=country, countries=organization_countries(db))


@bp.route("/organizations/new", methods=["GET", "POST"])
@admin_only
def new_organization():
    """A new organisation; its slug is made from the name unless one is typed."""
    form = OrganizationForm()
    form.country.choices = [("", "—"), *country_choices()]
    if form.validate_on_submit():
        try:
            org = create_organization(get_session(), name=form.name.data,
                                      slug=form.slug.data, country=form.country.data or None,
                                      actor=current_actor())
        except PortalError as exc:
            getattr(form, exc.field if exc.field in ("name", "slug", "country") else "slug"
                    ).errors = [exc.message or str(exc)]
        else:
            flash(_("The organisation %(name)s is created, with the slug %(slug)s.",
                    name=org.name, slug=org.slug), "success")
            return redirect(url_for(".organization", org_id=org.id), 303)
    return render_template("admin/organization_new.html", form=form), \
        422 if form.errors else 200


@bp.get("/organizations/<id:org_id>")
@admin_only
def organization(org_id: int):
    org = organization_or_404(get_session(), org_id)
    return _page(org_id, RenameForm(data={"name": org.name, "version": org.version}))


@bp.post("/organizations/<id:org_id>/rename")
@admin_only
def rename_org(org_id: int):
    """A new name, if nobody changed the organisation since the form was shown (else 409)."""
    form = RenameForm()
    organization_or_404(get_session(), org_id)
    if not form.validate_on_submit():
        return _page(org_id, form), 422
    try:
        rename_organization(get_session(), org_id, name=form.name.data,
                            version=int(form.version.data), actor=current_actor())
    except PortalError as exc:
        if exc.status == 409:
            raise
        form.name.errors = [exc.message or str(exc)]
        return _page(org_id, form), exc.status
    flash(_("The organisation is renamed."), "success")
    return redirect(url_for(".organization", org_id=org_id), 303)


@bp.post("/organizations/<id:org_id>/deactivate")
@admin_only
def deactivate_org(org_id: int):
    return _set_active(org_id, False)


@bp.post("/organizations/<id:org_id>/activate")
@admin_only
def activate_org(org_id: int):
    return _set_active(org_id, True)


def _set_active(org_id: int, active: bool):
    form = VersionForm()
    organization_or_404(get_session(), org_id)
    if not form.validate_on_submit():
        flash(_("The form was incomplete; nothing was changed. Please try again."), "error")
        return _page(org_id, RenameForm(formdata=None)), 422
    counts = set_organization_active(get_session(), org_id, active=active,
                                     version=int(form.version.data), actor=current_actor())
    shops = ngettext("%(num)s shop", "%(num)s shops", counts["shops"])
    if active:
        flash(_("The organisation is active again: %(shops)s are back in the search, and "
                "its people can sign in.", shops=shops), "success")
    else:
        flash(_("The organisation is deactivated: %(shops)s left the search, its people can "
                "no longer sign in or use their API tokens, and %(ended)s browser sessions "
                "ended.", shops=shops, ended=counts["sessions_ended"]), "success")
    return redirect(url_for(".organization", org_id=org_id), 303)


def _page(org_id: int, rename_form: RenameForm):
    db = get_session()
    org = organization_or_404(db, org_id)
    shops, users = organization_members(db, org_id)
    if rename_form.version.data in (None, ""):
        rename_form.version.data = org.version
        rename_form.name.data = rename_form.name.data or org.name
    return render_template("admin/organization.html", org=org, shops=shops, users=users,
                           rename_form=rename_form,
                           action_form=VersionForm(data={"version": org.version}))
