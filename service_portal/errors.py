"""Domain exceptions and the one error renderer (CONTRACT section 9).

Every error leaves as `{"error": {"code", "message", "field", "details"}}` under
`/api/` and as a page elsewhere, with the message in the request's locale.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class PortalError(Exception):
    """An error the user can act on: an HTTP status, a stable code and a translated message."""

    status = 400
    code = "bad_request"
    default_message = _l("The request could not be understood.")

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        field: str | None = None,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or str(self.default_message))
        self.message = message
        self.code = code or self.code
        self.field = field
        self.details = details or []
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": str(self.message or self.default_message),
                "field": self.field,
                "details": self.details,
            }
        }


class BadParameter(PortalError):
    status, code = 400, "bad_parameter"
    default_message = _l("A parameter is missing or malformed.")


class Unauthorized(PortalError):
    status, code = 401, "unauthorized"
    default_message = _l("Sign in or send a valid API token.")


class Forbidden(PortalError):
    status, code = 403, "forbidden"
    default_message = _l("You are not allowed to do this.")


class NotFound(PortalError):
    status, code = 404, "not_found"
    default_message = _l("Nothing was found here.")


class Conflict(PortalError):
    status, code = 409, "version_conflict"
    default_message = _l("Someone else changed this in the meantime. Reload and try again.")


class Invalid(PortalError):
    status, code = 422, "invalid"
    default_message = _l("The request is well-formed but its content is not valid.")


#: Codes and messages for the statuses that werkzeug raises on its own.
HTTP_ERRORS: dict[int, tuple[str, Any]] = {
    400: ("bad_request", _l("The request could not be understood.")),
    401: ("unauthorized", _l("Sign in or send a valid API token.")),
    403: ("forbidden", _l("You are not allowed to do this.")),
    404: ("not_found", _l("Nothing was found here.")),
    405: ("method_not_allowed", _l("This method is not allowed here.")),
    409: ("conflict", _l("Someone else changed this in the meantime. Reload and try again.")),
    413: ("too_large", _l("The upload is too large.")),
    415: ("unsupported_media_type", _l("This content type is not accepted here.")),
    422: ("invalid", _l("The request is well-formed but its content is not valid.")),
    429: ("rate_limited", _l("Too many requests. Please wait a moment and try again.")),
    503: ("busy", _l("The portal is busy. Please try again in a moment.")),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
    """The one place an error becomes a response."""
    if wants_json():
        response = jsonify(payload)
    elif request_ctx.url_adapter is None:
        # A Host outside TRUSTED_HOSTS: no address on this site can be built for it, so
        # the page is the message alone.
        response = Response(payload["error"]["message"], mimetype="text/plain")
    else:
        response = Response(
            render_template("error.html", status=status, error=payload["error"]),
            mimetype="text/html",
        )
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_payload(status: int, code: str | None = None, message: str | None = None):
    default_code, default_message = HTTP_ERRORS.get(status, HTTP_ERRORS[400])
    return {"error": {"code": code or default_code, "message": message or str(default_message),
                      "field": None, "details": []}}


def init_app(app: Flask) -> None:
    @app.before_request
    def _refuse_nul():
        # No stored name or key holds a NUL, and PostgreSQL refuses one in any text value;
        # an address carrying one names nothing here.
        if "\x00" in request.path:
            return render_error(404, _http_payload(404))
        return None

    @app.errorhandler(PortalError)
    def _portal_error(exc: PortalError):
        return render_error(exc.status, exc.to_dict(), exc.headers)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        log.info("csrf refused on %s: %s", request.path, exc.description)
        return render_error(400, _http_payload(
            400, "csrf_failed", _("This form has expired or did not come from this site. "
                                  "Reload the page and try again.")))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        if status >= 500:
            return _server_error(exc)
        headers = {}
        if status == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        if status == 429:
            from .security import retry_after_seconds

            headers["Retry-After"] = str(retry_after_seconds())
        return render_error(status, _http_payload(status), headers)

    @app.errorhandler(Exception)
    def _server_error(exc: Exception):
        original = getattr(exc, "original_exception", None) or exc
        retry = retry_after(original)
        if retry is not None:
            log.warning("database unavailable on %s %s: %s", request.method, request.path,
                        str(original).splitlines()[0])
            return render_error(503, _http_payload(503), {"Retry-After": str(retry)})
        if isinstance(original, DataError):
            # A value the database cannot hold (the checks in front should have caught it):
            # the request is at fault, and the transaction is rolled back all the same.
            log.warning("database refused a value on %s %s", request.method, request.path)
            return render_error(400, _http_payload(400))
        log.exception("unhandled error on %s %s", request.method, request.path)
        payload = {"error": {"code": "internal_error",
                             "message": _("Something went wrong on our side. Please try again."),
                             "field": None, "details": []}}
        return render_error(500, payload)


#: SQLSTATE classes and codes after which the same request may succeed soon, with the
#: seconds to suggest: a lock or a serialisation conflict clears at once; a statement cut
#: short by `statement_timeout`, a server shutting down or a lost connection later.
_RETRY_SQLSTATES = {"55P03": 1, "40001": 1, "40P01": 1, "57014": 5, "57P01": 5, "57P02": 5,
                    "57P03": 5, "08": 5}
#: SQLite's messages for the same: busy beyond its timeout; the file unreachable.
_RETRY_SQLITE = {"database is locked": 1, "unable to open database file": 5,
                 "disk i/o error": 5}


def retry_after(exc: BaseException) -> int | None:
    """Seconds after which a request that failed with `exc` may succeed (a lock waited
    for too long, a statement timed out, the database unreachable), or None for an
    error that retrying will not cure. `exc` is SQLAlchemy's OperationalError or the
    driver's own (the search index uses driver connections)."""
    if isinstance(exc, OperationalError):
        if exc.connection_invalidated:
            return 5
        orig = exc.orig
    elif type(exc).__name__ == "OperationalError" and type(exc).__module__.split(".")[0] in (
            "psycopg", "sqlite3"):
        orig = exc
    else:
        return None
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return _RETRY_SQLSTATES.get(sqlstate, _RETRY_SQLSTATES.get(sqlstate[:2]))
    if type(orig).__module__.startswith("psycopg"):
        return 5  # psycopg gives no SQLSTATE when it cannot reach the server at all
    text = str(orig).lower()
    return next((seconds for sign, seconds in _RETRY_SQLITE.items() if sign in text), None)
