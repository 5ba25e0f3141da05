"""Staff JSON routes of cases (CONTRACT section 6): the queue, changes, notes, privacy.

Bearer token of staff or an admin. Reading a case's personal data, exporting it and
erasing it are written to the audit log.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from ..audit.services import record
from ..db import get_session, utcnow
from ..jsonbody import json_body
from ..params import refuse_unknown
from ..parts.dealer_api import failed_auth, token_failure_limit
from ..security import actor_label, limiter, token_required
from .queries import case_by_reference, case_document, list_cases, owner_export
from .queue_params import parse_queue_args
from .schemas import CasePatch, NoteIn, PrivacyRequest
from .services import add_note, change_case, erase_owner

bp = Blueprint("cases_staff_api", __name__, url_prefix="/api/v1")
limiter.limit(token_failure_limit, deduct_when=failed_auth, scope="token-auth")(bp)


@bp.before_request
def _personal_data() -> None:
    g.personal_data = True  # case answers carry personal data: `Cache-Control: no-store`


@bp.get("/cases")
@token_required("staff", "admin")
def queue():
    filters = parse_queue_args(request.args)
    total, results = list_cases(
        get_session(), now=utcnow(), status=filters.status, country=filters.country,
        brand=filters.brand, shop_ids=[filters.shop_id] if filters.shop_id else None,
        q=filters.q, breached=filters.breached, limit=filters.limit, offset=filters.offset)
    return jsonify({"total": total, "limit": filters.limit, "offset": filters.offset,
                    "results": results})


@bp.patch("/cases/<reference>")
@token_required("staff", "admin")
def change(reference: str):
    refuse_unknown(request.args, ("lang",))
    patch = json_body(CasePatch)
    session = get_session()
    case = case_by_reference(session, reference)
    change_case(session, case, patch, actor_id=g.api_user.id, actor_label=actor_label(),
                hours=current_app.config["CASE_SLA_HOURS"])
    return jsonify(case_document(session, case, now=utcnow()))


@bp.post("/cases/<reference>/notes")
@token_required("staff", "admin")
def note(reference: str):
    refuse_unknown(request.args, ("lang",))
    data = json_body(NoteIn)
    session = get_session()
    case = case_by_reference(session, reference)
    add_note(session, case, data, actor_id=g.api_user.id, actor_label=actor_label())
    return jsonify(case_document(session, case, now=utcnow())), 201


@bp.post("/privacy/export")
@token_required("staff", "admin")
def export_owner():
    """Everything held on an owner, by the email in the body (never in the URL)."""
    refuse_unknown(request.args, ("lang",))
    email = json_body(PrivacyRequest).email
    session = get_session()
    data = owner_export(session, email, now=utcnow())
    record(session, actor_label=actor_label(), actor_id=g.api_user.id,
           action="privacy.export", entity_type="owner",
           entity_id=",".join(c["reference"] for c in data["cases"])[:80] or "none")
    return jsonify(data)


@bp.post("/privacy/erase")
@token_required("staff", "admin")
def erase():
    """Erase an owner's personal data; the cases stay, anonymous, for statistics."""
    refuse_unknown(request.args, ("lang",))
    email = json_body(PrivacyRequest).email
    session = get_session()
    references = erase_owner(session, email, actor_id=g.api_user.id,
                             actor_label=actor_label())
    record(session, actor_label=actor_label(), actor_id=g.api_user.id,
           action="privacy.erase", entity_type="owner",
           entity_id=",".join(references)[:80] or "none", after={"cases": references})
    return jsonify({"erased": references})
