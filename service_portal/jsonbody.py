"""Reading JSON request bodies: content type, size and depth checked, then a schema."""

from __future__ import annotations

import json
from typing import TypeVar

from flask import request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import UnsupportedMediaType

from .errors import BadParameter, Invalid
from .fields import Refused

MAX_DEPTH = 8
MAX_JSON_BYTES = 2 * 1024 * 1024
Model = TypeVar("Model", bound=BaseModel)


def json_body(model: type[Model]) -> Model:
    """The body as `model`: 415 unless `application/json`, 400 when not JSON or nested
    deeper than MAX_DEPTH, 422 listing every invalid or unknown field."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType()
    raw = request.get_data(cache=True)
    if len(raw) > MAX_JSON_BYTES:
        raise BadParameter(_("The request body is too large."), code="body_too_large")
    try:
        data = json.loads(raw or b"null", parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadParameter(_("The request body is not valid JSON."), code="bad_json") from None
    if _depth(data) > MAX_DEPTH:
        raise BadParameter(_("The request body is nested too deeply."), code="bad_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in err["loc"]) or None,
                    "message": error_message(err)} for err in exc.errors()]
        raise Invalid(_("Some fields are missing or invalid."), code="invalid_body",
                      field=details[0]["field"] if details else None,
                      details=details) from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity are Python's, not JSON's


def _depth(value, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()], default=level + 1)
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value], default=level + 1)
    return level


def error_message(err: dict) -> str:
    """A translated sentence for the common pydantic error kinds."""
    kind = err.get("type", "")
    refused = (err.get("ctx") or {}).get("error")
    if isinstance(refused, Refused):  # a shared field check's own translated words
        return str(refused)
    if kind == "extra_forbidden":
        return _("This field is not accepted here.")
    if kind == "missing":
        return _("This value is required.")
    if kind.startswith(("int", "float", "decimal")):
        return _("Not a valid number.")
    if kind.startswith("string") or kind.startswith("literal"):
        return _("Not a valid value.")
    return _("Not a valid value.")
