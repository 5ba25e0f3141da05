"""Owner pages of cases: ask for help (with consent), the confirmation, the status page.

The status is looked up by reference and email sent in a POST body, so neither ends up in
an address bar, a history or a log."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlmodel import select

from ..catalog.models import Service
from ..catalog.queries import catalog_choices
from ..db import get_session
from ..errors import PortalError
from ..i18n import country_choices
from ..jsonbody import error_message
from ..names import service_name
from ..security import holds_personal_data, limiter
from .api import case_limit, create_case, lookup_limit
from .forms import CaseLookupForm, RequestHelpForm
from .history import status_changes
from .queries import owner_case, public_case_document
from .schemas import CaseRequest
from .workflow import is_reference

bp = Blueprint("cases", __name__)
holds_personal_data(bp)


def _not_posting() -> bool:
    return request.method != "POST"



@bp.route("/help", methods=["GET", "POST"])
@limiter.shared_limit(case_limit, scope="case-create", exempt_when=_not_posting)
def request_help():
    form = RequestHelpForm()
    _fill_choices(form)
    if request.method == "GET" and request.args.get("shop", "").isdigit():
        form.shop_id.data = request.args["shop"]
    if form.validate_on_submit() and (reference := _submit(form)):
        # Post/redirect/get: the confirmation survives a reload. The reference alone
        # opens nothing; the owner's email stays out of the address.
        return redirect(url_for("cases.sent", reference=reference), code=303)
    status = 422 if form.errors else 200
    return render_template("cases/request.html", form=form), status


@bp.get("/help/sent")
def sent():
    reference = request.args.get("reference", "")
    if not is_reference(reference):
        return redirect(url_for("cases.request_help"))
    return render_template("cases/sent.html", reference=reference)


@bp.route("/cases/status", methods=["GET", "POST"])
@limiter.shared_limit(lookup_limit, scope="case-lookup", exempt_when=_not_posting)
def status():
    form = CaseLookupForm()
    if request.method == "GET" and is_reference(request.args.get("reference", "")):
        form.reference.data = request.args["reference"]  # from the "sent" page's link
    case, moves = None, []
    if form.validate_on_submit():
        db = get_session()
        try:
            found = owner_case(db, form.reference.data, form.email.data)
        except PortalError as exc:
            form.reference.errors = [exc.message]
        else:
            case, moves = public_case_document(db, found), status_changes(db, found.id)
    code = 404 if form.reference.errors and request.method == "POST" else 200
    return render_template("cases/status.html", form=form, case=case, moves=moves), code


def _submit(form: RequestHelpForm) -> str | None:
    """Open the case and return its reference; on refusal put each message on its field
    and return None."""
    raw = {name: getattr(form, name).data for name in (
        "name", "email", "phone", "vin", "model", "year", "country", "place", "service",
        "description")}
    raw["shop_id"] = int(form.shop_id.data) if (form.shop_id.data or "").isdigit() else None
    raw["consent"] = bool(form.consent.data)
    try:
        case = create_case(CaseRequest.model_validate(
            {k: v for k, v in raw.items() if v not in (None, "")}))
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "description"
            target = getattr(form, name, form.description)
            message = (_("Please agree, so that we can handle your request.")
                       if name == "consent" else error_message(err))
            if message not in target.errors:
                target.errors = [*target.errors, message]
        return None
    except PortalError as exc:
        target = getattr(form, exc.field or "description", form.description)
        target.errors = [*target.errors, exc.message or str(exc)]
        return None
    return case.reference


def _fill_choices(form: RequestHelpForm) -> None:
    db = get_session()
    form.model.choices = {"": [("", "—")],
                          **{brand.name: [(m.slug, m.name) for m in models]
                             for brand, models in catalog_choices(db) if models}}
    form.service.choices = [(slug, service_name(slug)) for slug in
                            db.exec(select(Service.slug).order_by(Service.id))]
    form.country.choices = [("", "—"), *country_choices()]
