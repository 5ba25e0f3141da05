"""JSON routes of the parts catalog: a part, and where it (or a successor) is in stock."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..db import get_session
from ..errors import NotFound
from ..params import refuse_unknown
from ..search import REPEATABLE, SINGLE, parse_search_args, search
from .queries import part_document
from .schemas import part_number as check_part_number

bp = Blueprint("parts_api", __name__, url_prefix="/api/v1")


def _part_or_404(raw: str) -> dict:
    try:
        number = check_part_number(raw)
    except ValueError:
        raise NotFound(_("Unknown part number: %(value)s", value=raw[:40])) from None
    doc = part_document(get_session(), number)
    if doc is None:
        raise NotFound(_("Unknown part number: %(value)s", value=number))
    return doc


@bp.get("/parts/<path:part_number>")
def part(part_number: str):
    refuse_unknown(request.args, ())
    return jsonify(_part_or_404(part_number))


@bp.get("/parts/<path:part_number>/availability")
def availability(part_number: str):
    """Shops holding the part or a successor (qty > 0), nearest first: the search's
    location parameters and filters, and its response shape."""
    doc = _part_or_404(part_number)
    refuse_unknown(request.args, tuple(p for p in SINGLE + REPEATABLE if p != "part"))
    args = MultiDict(request.args)
    args.setlist("part", [doc["part_number"]])
    return jsonify(search(parse_search_args(args), base={"part": doc["part_number"]}))
