"""Evidence pages: the dealer uploads it for their own shops (`/dealer/shops/<id>/
credentials`), staff review it (`/staff/credentials`). A file is served only to the shop's
own organisation and to staff, as a download that a browser never runs."""

from __future__ import annotations

import io
from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from ..catalog.models import Brand
from ..db import get_session
from ..errors import BadParameter, PortalError
from ..params import refuse_unknown, single
from ..parts.dealer_views import dealer_required, own_shop
from ..security import current_actor, role_required
from ..shops.models import ShopBrand
from .forms import BrandEvidenceForm, HvCertificateForm, ReviewForm
from .models import Credential
from .queries import REVIEW_STATES, review_details, review_list, shop_evidence
from .services import Evidence, review, submit
from .storage import evidence_store

bp = Blueprint("credentials", __name__)
staff_only = role_required("staff", "admin")
PAGE_SIZE = 50


@bp.route("/dealer/shops/<id:shop_id>/credentials", methods=["GET", "POST"])
@dealer_required
def dealer_list(shop_id: int):
    """The shop's evidence and the two upload forms; a POST names its form in `kind`."""
    shop = own_shop(shop_id)
    session = get_session()
    brand_form, hv_form = BrandEvidenceForm(prefix="brand"), HvCertificateForm(prefix="hv")
    brand_form.brand.choices = [(brand_id, name) for brand_id, name in session.execute(
        select(Brand.id, Brand.name).join(ShopBrand, ShopBrand.brand_id == Brand.id)
        .where(ShopBrand.shop_id == shop.id).order_by(Brand.name))]
    status = 200
    if request.method == "POST":
        kind = request.form.get("kind")
        form = {"brand": brand_form, "hv": hv_form}.get(kind)
        if form is None:
            raise BadParameter(field="kind")
        if form.validate_on_submit():
            upload = form.file.data
            try:
                submit(session, shop, _evidence(kind, form), file_name=upload.filename or "",
                       data=upload.read(), actor=current_actor())
            except PortalError as exc:
                session.rollback()
                target = getattr(form, exc.field or "", None) or form.file
                target.errors = [*target.errors, str(exc)]
                status = exc.status
            else:
                flash(_("The document is uploaded; staff will review it."), "info")
                return redirect(url_for(".dealer_list", shop_id=shop.id), 303)
        else:
            status = 422
    return render_template("dealer/credentials.html", shop=shop, brand_form=brand_form,
                           hv_form=hv_form, evidence=shop_evidence(session, shop.id),
                           today=date.today()), status


def _evidence(kind: str, form) -> Evidence:
    if kind == "brand":
        return Evidence(kind="brand", brand_id=form.brand.data, document=form.document.data,
                        issuer=form.issuer.data or "", valid_until=form.valid_until.data)
    return Evidence(kind="hv", technician=form.technician.data, hv_level=form.hv_level.data,
                    issuer=form.issuer.data or "", valid_until=form.valid_until.data)


@bp.get("/dealer/shops/<id:shop_id>/credentials/<id:credential_id>/file")
@dealer_required
def dealer_file(shop_id: int, credential_id: int):
    shop = own_shop(shop_id)
    row = get_session().get(Credential, credential_id)
    if row is None or row.shop_id != shop.id:
        abort(404)
    return _file(row)


@bp.get("/staff/credentials")
@staff_only
def review_queue():
    """Evidence by `state` (pending first, the default), `offset` for the next page."""
    refuse_unknown(request.args, ("state", "offset"))
    state = single(request.args, "state", allow_empty=True) or "pending"
    if state not in REVIEW_STATES:
        raise BadParameter(field="state")
    offset_text = single(request.args, "offset", allow_empty=True) or "0"
    if not offset_text.isdigit() or int(offset_text) > 10**6:
        raise BadParameter(field="offset")
    offset = int(offset_text)
    total, rows = review_list(get_session(), state=state, offset=offset, limit=PAGE_SIZE)
    return render_template("staff/credentials.html", state=state, states=REVIEW_STATES,
                           total=total, rows=rows, offset=offset, page_size=PAGE_SIZE)


@bp.route("/staff/credentials/<id:credential_id>", methods=["GET", "POST"])
@staff_only
def review_page(credential_id: int):
    """One piece of evidence with its file and the decision: `action` verify or reject."""
    session = get_session()
    found = review_details(session, credential_id)
    if found is None:
        abort(404)
    row = found[0]
    form = ReviewForm()
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        if action not in ("verify", "reject"):
            raise BadParameter(field="action")
        if form.validate_on_submit():
            try:
                review(session, row.id, version=int(form.version.data),
                       verified=action == "verify", reason=form.reason.data,
                       actor=current_actor())
            except (PortalError, ValueError) as exc:
                session.rollback()
                status = getattr(exc, "status", 400)
                if getattr(exc, "field", None) == "reason":
                    form.reason.errors = [*form.reason.errors, str(exc)]
                else:
                    flash(str(exc) if isinstance(exc, PortalError) else _("Please check "
                          "the form."), "error")
                found = review_details(session, credential_id)
            else:
                flash(_("Verified.") if action == "verify" else _("Rejected; the dealer is "
                                                                  "told why."), "info")
                return redirect(url_for(".review_queue"), 303)
        else:
            status = 422
    if request.method == "GET" or status == 409:
        form.version.data = str(found[0].version)
    credential, shop, organization, brand = found
    return render_template("staff/credential.html", credential=credential, shop=shop,
                           organization=organization, brand=brand, form=form,
                           today=date.today()), status


@bp.get("/staff/credentials/<id:credential_id>/file")
@staff_only
def staff_file(credential_id: int):
    row = get_session().get(Credential, credential_id)
    if row is None:
        abort(404)
    return _file(row)


def _file(row: Credential):
    """The stored file as a download: its checked type, never sniffed or run inline."""
    try:
        data = evidence_store(current_app).get(row.file_key)
    except FileNotFoundError:
        abort(404)
    response = send_file(io.BytesIO(data), mimetype=row.content_type, as_attachment=True,
                         download_name=row.file_name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
