"""Staff JSON routes of cases (CONTRACT section 6): the queue, changes, notes, privacy.

Bearer token of staff or an admin. Reading a case's personal data, exporting it and
erasing it are written to the audit log.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..db import get_session, utcnow
from ..jsonbody import json_body
from ..params import refuse_unknown
from ..security import current_actor, holds_personal_data, token_required
from .queries import case_by_reference, case_document, queue_cases
from .queue_params import parse_queue_args
from .schemas import CasePatch, NoteIn, PrivacyRequest
from .services import add_note, change_case, erase_owner, export_owner

bp = Blueprint("cases_staff_api", __name__, url_prefix="/api/v1")
holds_personal_data(bp)



@bp.get("/cases")
@token_required("staff", "admin")
def queue():
    filters = parse_queue_args(request.args)
    total, results = queue_cases(get_session(), filters, now=utcnow())
    return jsonify({"total": total, "limit": filters.limit, "offset": filters.offset,
                    "results": results})


@bp.patch("/cases/<reference>")
@token_required("staff", "admin")
def change(reference: str):
    refuse_unknown(request.args, ("lang",))
    patch = json_body(CasePatch)
    session = get_session()
    case = case_by_reference(session, reference)
    change_case(session, case, patch, actor=current_actor(),
                hours=current_app.config["CASE_SLA_HOURS"])
    return jsonify(case_document(session, case, now=utcnow()))


@bp.post("/cases/<reference>/notes")
@token_required("staff", "admin")
def note(reference: str):
    refuse_unknown(request.args, ("lang",))
    data = json_body(NoteIn)
    session = get_session()
    case = case_by_reference(session, reference)
    add_note(session, case, data, actor=current_actor())
    return jsonify(case_document(session, case, now=utcnow())), 201


@bp.post("/privacy/export")
@token_required("staff", "admin")
def export_owner_data():
    """Everything held on an owner, by the email in the body (never in the URL)."""
    refuse_unknown(request.args, ("lang",))
    email = json_body(PrivacyRequest).email
    return jsonify(export_owner(get_session(), email, actor=current_actor()))


@bp.post("/privacy/erase")
@token_required("staff", "admin")
def erase():
    """Erase an owner's personal data; the cases stay, anonymous, for statistics."""
    refuse_unknown(request.args, ("lang",))
    email = json_body(PrivacyRequest).email
    references = erase_owner(get_session(), email, actor=current_actor())
    return jsonify({"erased": references})
