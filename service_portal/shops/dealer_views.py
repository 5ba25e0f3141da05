"""The dealer's shop profile page: contact details, hours with a preview, services,
languages, high-voltage qualification and, for a battery take-back point, what it takes."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..catalog.models import Service
from ..db import get_session
from ..errors import PortalError
from ..names import service_name
from ..parts.dealer_views import dealer_required, own_shop
from ..security import current_actor
from .documents import RECYCLING
from .forms import ShopProfileForm
from .hours import opening_week
from .services import shop_links, update_profile
from .takeback import (
    chemistry_name,
    known_chemistries,
    set_takeback,
    takeback_form_data,
    takeback_of,
)

bp = Blueprint("dealer_shops", __name__, url_prefix="/dealer")


@bp.route("/shops/<id:shop_id>/profile", methods=["GET", "POST"])
@dealer_required
def profile(shop_id: int):
    shop = own_shop(shop_id)
    session = get_session()
    form = ShopProfileForm()
    form.services.choices = [(slug, service_name(slug))
                             for slug in session.scalars(select(Service.slug)
                                                         .order_by(Service.id))]
    form.takes_chemistries.choices = [(code, chemistry_name(code))
                                      for code in known_chemistries(session)]
    links = shop_links(session, shop.id)
    if request.method == "GET":
        form.process(data={"name": shop.name, "phone": shop.phone, "email": shop.email,
                           "website": shop.website, "opening_hours": shop.opening_hours,
                           "languages": ", ".join(links["languages"]),
                           "services": links["services"], "hv_level": shop.hv_level,
                           "hv_valid_until": shop.hv_valid_until, "version": shop.version,
                           **takeback_form_data(takeback_of(session, shop.id))})
    preview_only = request.form.get("action") == "preview"
    status = 200
    if request.method == "POST":
        if form.validate_on_submit() and not preview_only:
            try:
                update_profile(session, shop, version=int(form.version.data),
                               actor=current_actor(),
                               values={"name": form.name.data.strip(),
                                       "phone": form.phone.data or None,
                                       "email": form.email.data or None,
                                       "website": form.website.data or None,
                                       "opening_hours": form.opening_hours.data or None,
                                       "hv_level": form.hv_level.data,
                                       "hv_valid_until": form.hv_valid_until.data},
                               services=form.services.data,
                               languages=[c.strip() for c in (form.languages.data or "").split(",")
                                          if c.strip()])
                # Only a form that showed the take-back questions answers them.
                if RECYCLING in form.services.data and "takes_scheme" in request.form:
                    set_takeback(session, shop, actor=current_actor(),
                                 chemistries=form.takes_chemistries.data or [],
                                 damaged=form.takes_damaged.data,
                                 max_weight_kg=form.takes_max_weight_kg.data,
                                 free=form.takes_free.data, scheme=form.takes_scheme.data)
            except (PortalError, ValueError) as exc:
                session.rollback()
                message = getattr(exc, "message", None) or getattr(exc, "default_message", "")
                flash(str(message) or _("Please check the form."), "error")
                status = getattr(exc, "status", 422)
            else:
                flash(_("The shop profile is saved."), "info")
                return redirect(url_for(".profile", shop_id=shop.id)), 303
        elif form.errors:
            status = 422
    hours = form.opening_hours.data if not form.opening_hours.errors else None
    week = opening_week(hours, shop.timezone, shop.country, datetime.now(UTC))
    # The take-back questions, while the shop offers (or is being given) the service.
    takeback = RECYCLING in links["services"] or RECYCLING in (form.services.data or [])
    return render_template("dealer/profile.html", shop=shop, form=form, week=week,
                           hours=hours, takeback=takeback), status
