"""Owner JSON routes of cases (CONTRACT section 4): ask for help, then follow the case.

`GET /api/v1/cases/<reference>` serves two readers: with a staff or admin bearer token it
is the staff view with the history (CONTRACT section 6, audited as access to personal
data); without one it is the owner's public status, found by reference plus email.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_babel import get_locale
from flask_babel import gettext as _

from ..db import get_session, utcnow
from ..errors import BadParameter
from ..jsonbody import json_body
from ..params import refuse_unknown, single
from ..search import locate_place
from ..security import bearer_token, current_actor, holds_personal_data, limiter, token_required
from .queries import case_by_reference, case_document, owner_case, public_case_document
from .schemas import CaseRequest
from .services import open_case, record_case_view

bp = Blueprint("cases_api", __name__, url_prefix="/api/v1")
holds_personal_data(bp)



def case_limit() -> str:
    return current_app.config["CASE_RATE_LIMIT"]


def lookup_limit() -> str:
    return current_app.config["CASE_LOOKUP_RATE_LIMIT"]


def create_case(data: CaseRequest):
    """Open the case of `data` (shared by the API and the request-help page)."""
    place = None
    if data.place:
        where = locate_place(data.place, country=data.country, field="place")
        place = (where.label or data.place, where.lat, where.lon)
    return open_case(get_session(), data, hours=current_app.config["CASE_SLA_HOURS"],
                     place=place, locale=str(get_locale() or "en"))


@bp.post("/cases")
@limiter.shared_limit(case_limit, scope="case-create")
def create():
    refuse_unknown(request.args, ())
    case = create_case(json_body(CaseRequest))
    return jsonify({"reference": case.reference, "status": case.status}), 201


@bp.get("/cases/<reference>")
def show(reference: str):
    if bearer_token() is not None:
        return _staff_view(reference)
    return _owner_view(reference)


@limiter.shared_limit(lookup_limit, scope="case-lookup")
def _owner_view(reference: str):
    refuse_unknown(request.args, ("email", "lang"))
    email = single(request.args, "email")
    if email is None:
        raise BadParameter(_("Give the email address the request was sent with."),
                           code="missing_email", field="email")
    session = get_session()
    return jsonify(public_case_document(session, owner_case(session, reference, email)))


@token_required("staff", "admin")
def _staff_view(reference: str):
    refuse_unknown(request.args, ("lang",))
    session = get_session()
    case = case_by_reference(session, reference)
    record_case_view(session, case, actor=current_actor())
    return jsonify(case_document(session, case, now=utcnow()))
