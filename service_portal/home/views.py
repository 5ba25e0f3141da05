"""Front page and `/healthz`."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text

from ..db import get_session
from .queries import portal_counts

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("home/index.html", counts=portal_counts(get_session()))


@bp.get("/healthz")
def healthz():
    """For load balancers: answers 200 only when the database answers."""
    get_session().execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
