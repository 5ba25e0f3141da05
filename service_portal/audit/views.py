"""The audit log page for staff and admins: who did what, when, before and after."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlmodel import func, select

from ..db import get_session
from ..errors import BadParameter
from ..params import refuse_unknown, single
from ..security import holds_personal_data, role_required
from ..vocabulary import AUDIT_ACTIONS, AUDIT_RECORDS
from .models import AuditEntry

bp = Blueprint("audit", __name__, url_prefix="/staff")
holds_personal_data(bp)
PAGE_SIZE = 50


@bp.get("/audit")
@role_required("staff", "admin")
def log():
    refuse_unknown(request.args, ("entity_type", "entity_id", "action", "offset", "lang"))
    filters = {name: single(request.args, name, allow_empty=True)
               for name in ("entity_type", "entity_id", "action")}
    raw_offset = single(request.args, "offset", allow_empty=True) or "0"
    if not (raw_offset.isascii() and raw_offset.isdigit()) or int(raw_offset) > 10**7:
        raise BadParameter(field="offset")
    offset = int(raw_offset)
    query = select(AuditEntry)
    for name, value in filters.items():
        if value:
            query = query.where(getattr(AuditEntry, name) == value[:80])
    session = get_session()
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    entries = session.exec(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                           .limit(PAGE_SIZE).offset(offset)).all()
    args = {k: v for k, v in filters.items() if v}
    return render_template("staff/audit.html", entries=entries, total=total, offset=offset,
                           page_size=PAGE_SIZE, filters=filters, args=args,
                           actions=AUDIT_ACTIONS, records=AUDIT_RECORDS)
