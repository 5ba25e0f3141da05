"""Staff JSON routes that publish bulletins (CONTRACT section 6): bearer token of staff or
an admin; every change is audited with its before and after."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlmodel import select

from ..db import get_session
from ..errors import Conflict, Invalid, NotFound
from ..jsonbody import json_body
from ..params import refuse_unknown
from ..security import current_actor, token_required
from .models import Bulletin
from .queries import bulletin_detail
from .schemas import BulletinIn
from .services import upsert_bulletin

bp = Blueprint("bulletins_staff_api", __name__, url_prefix="/api/v1")


@bp.post("/bulletins")
@token_required("staff", "admin")
def create():
    refuse_unknown(request.args, ())
    data = json_body(BulletinIn)
    session = get_session()
    if session.exec(select(Bulletin.id).where(Bulletin.code == data.code)).first():
        raise Conflict(_("A bulletin %(code)s exists already; change it with PUT.",
                         code=data.code), code="bulletin_exists", field="code")
    upsert_bulletin(session, data, actor=current_actor())
    return jsonify(bulletin_detail(session, data.code, str(get_locale() or "en"))), 201


@bp.put("/bulletins/<code>")
@token_required("staff", "admin")
def replace(code: str):
    refuse_unknown(request.args, ())
    data = json_body(BulletinIn)
    session = get_session()
    if data.code != code.strip().upper():
        raise Invalid(_("The code in the body differs from the code in the address."),
                      code="code_mismatch", field="code")
    if session.exec(select(Bulletin.id).where(Bulletin.code == data.code)).first() is None:
        raise NotFound(_("There is no bulletin %(code)s.", code=data.code[:40]))
    upsert_bulletin(session, data, actor=current_actor())
    return jsonify(bulletin_detail(session, data.code, str(get_locale() or "en")))
