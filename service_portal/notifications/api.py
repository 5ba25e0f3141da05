"""Owner JSON route of recall alerts (CONTRACT section 11): ask for alerts for a car; they
start once the emailed link is opened. The answer is the same whether or not the address
is known or already subscribed."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from ..db import get_session
from ..jsonbody import json_body
from ..params import refuse_unknown
from ..security import holds_personal_data, limiter
from .alerts import subscribe
from .schemas import AlertRequest

bp = Blueprint("alerts_api", __name__, url_prefix="/api/v1")
holds_personal_data(bp)


def alert_limit() -> str:
    return current_app.config["ALERT_RATE_LIMIT"]


def alert_client_limit() -> str:
    return current_app.config["ALERT_CLIENT_RATE_LIMIT"]


def alert_address() -> str:
    """Whom a subscription request would write to (the JSON body's or the form's `email`),
    so that nobody floods one inbox with confirmations; the client's address without one."""
    if request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    else:
        email = request.form.get("email")
    if isinstance(email, str) and email.strip():
        return "alert:" + email.strip().lower()[:254]
    return get_remote_address()


def _not_posting() -> bool:
    return request.method != "POST"


def request_alerts(data: AlertRequest) -> None:
    """Subscribe (unconfirmed) and queue the confirmation: shared by the API and the page."""
    subscribe(get_session(), data, secret_key=current_app.config["SECRET_KEY"],
              locale=str(get_locale() or "en"))


def accepted_message() -> str:
    return _("If this address can receive email, a message with a confirmation link is on "
             "its way. The alerts start once you open it.")


def alert_limited(view):
    """Both limits of a subscription request: per address written to (`ALERT_RATE_LIMIT`)
    and per client (`ALERT_CLIENT_RATE_LIMIT`); for this route and the page's form."""
    view = limiter.shared_limit(alert_client_limit, scope="alert-client",
                                exempt_when=_not_posting)(view)
    return limiter.shared_limit(alert_limit, scope="alert-address", key_func=alert_address,
                                exempt_when=_not_posting)(view)


@bp.post("/alerts")
@alert_limited
def create():
    refuse_unknown(request.args, ())
    request_alerts(json_body(AlertRequest))
    return jsonify({"status": "pending_confirmation", "message": accepted_message()}), 202
