"""The OpenAPI description of the case routes (CONTRACT sections 4 and 6), merged into
`/api/v1/openapi.json` by `service_portal.openapi.spec`."""

from __future__ import annotations

from typing import Any

from .models import CASE_STATUSES, PRIORITIES
from .queue_params import MAX_LIMIT, SORT_KEYS
from .schemas import CasePatch, CaseRequest, NoteIn, PrivacyRequest

_NULLABLE_TEXT = {"type": ["string", "null"]}
_MOMENT = {"type": "string", "format": "date-time"}
_SHOP_REF = {"type": ["object", "null"], "required": ["id", "name"], "properties": {
    "id": {"type": "integer"}, "name": {"type": ["string", "null"]},
    "city": _NULLABLE_TEXT, "phone": _NULLABLE_TEXT, "timezone": _NULLABLE_TEXT}}
_SUMMARY_PROPS: dict[str, Any] = {
    "reference": {"type": "string"}, "status": {"type": "string", "enum": list(CASE_STATUSES)},
    "priority": {"type": "string", "enum": list(PRIORITIES)},
    "version": {"type": "integer", "minimum": 1},
    "sla_due": {"type": ["string", "null"], "format": "date-time"},
    "sla_paused": {"type": "boolean"}, "sla_breached": {"type": "boolean"},
    "brand": _NULLABLE_TEXT, "model": _NULLABLE_TEXT,
    "model_year": {"type": ["integer", "null"]}, "country": {"type": "string"},
    "service": {"type": "string"}, "shop": _SHOP_REF, "assignee": _NULLABLE_TEXT,
    "created_at": _MOMENT, "updated_at": _MOMENT,
    "resolved_at": {"type": ["string", "null"]}, "closed_at": {"type": ["string", "null"]}}
CASE_SUMMARY = {"type": "object", "required": ["reference", "status", "priority", "version",
                                               "sla_due", "sla_paused"],
                "properties": _SUMMARY_PROPS}
EVENT = {"type": "object", "required": ["at", "actor", "kind"], "properties": {
    "at": _MOMENT, "actor": {"type": "string"},
    "kind": {"type": "string", "enum": ["opened", "changed", "note", "erased"]},
    "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]},
    "body": _NULLABLE_TEXT, "internal": {"type": "boolean"}}}
CASE = {"type": "object", "required": [*CASE_SUMMARY["required"], "events", "owner"],
        "properties": {**_SUMMARY_PROPS, "owner": {"type": "object"}, "vin": _NULLABLE_TEXT,
                       "place": _NULLABLE_TEXT, "description": _NULLABLE_TEXT,
                       "bulletin_codes": {"type": "array", "items": {"type": "string"}},
                       "events": {"type": "array", "items": EVENT}}}
PUBLIC_CASE = {"type": "object", "required": ["reference", "status", "notes"], "properties": {
    "reference": {"type": "string"}, "status": {"type": "string", "enum": list(CASE_STATUSES)},
    "service": {"type": "string"}, "brand": _NULLABLE_TEXT, "model": _NULLABLE_TEXT,
    "model_year": {"type": ["integer", "null"]}, "country": {"type": "string"},
    "shop": _SHOP_REF, "created_at": _MOMENT, "updated_at": _MOMENT,
    "notes": {"type": "array", "items": {"type": "object", "required": ["at", "body"],
                                         "properties": {"at": _MOMENT,
                                                        "body": {"type": "string"}}}}}}


def case_paths(*, param, responses, write_responses, lang, error) -> tuple[dict, dict]:
    """(paths, component schemas) of the case routes; the helpers come from the main spec."""
    reference = {"name": "reference", "in": "path", "required": True,
                 "schema": {"type": "string", "maxLength": 40}}
    bearer = [{"bearerAuth": []}]

    def body(name: str) -> dict:
        return {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{name}"}}}}

    queue_params = [
        param("status", {"type": "string", "enum": list(CASE_STATUSES)}, "Only this status."),
        param("country", {"type": "string", "pattern": "^[A-Za-z]{2}$"}, "ISO alpha-2."),
        param("brand", {"type": "string", "pattern": "^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$",
                        "maxLength": 40}, "Brand slug (any case)."),
        param("model", {"type": "string", "pattern": "^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$",
                        "maxLength": 80}, "Model slug."),
        param("sort", {"type": "string",
                       "enum": [*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)]},
              "Sort by this column (`-` first: descending); default: most urgent first."),
        param("shop_id", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
              "Only cases at this shop."),
        param("q", {"type": "string", "minLength": 1, "maxLength": 100,
                    "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*$"},
              "Text in the reference or the description."),
        param("breached", {"type": "string", "enum": ["true", "false"]},
              "Only cases past (true) or within (false) their SLA."),
        param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
              "Results per page."),
        param("offset", {"type": "integer", "minimum": 0, "maximum": 10**6, "default": 0},
              "Results to skip."),
        lang]
    opened = {"type": "object", "required": ["reference", "status"],
              "properties": {"reference": {"type": "string"},
                             "status": {"type": "string", "enum": ["new"]}}}
    paths = {
        "/api/v1/cases": {
            "post": {"operationId": "openCase", "summary": "An owner asks for help (no login; "
                     "rate-limited). consent must be true.",
                     "parameters": [lang], "requestBody": body("CaseRequest"),
                     "responses": _public_write(write_responses, 201, opened)},
            "get": {"operationId": "caseQueue", "summary": "The staff queue, most urgent "
                    "first", "security": bearer, "parameters": queue_params,
                    "responses": {**responses({"type": "object",
                                               "required": ["total", "results"],
                                               "properties": {
                                                   "total": {"type": "integer"},
                                                   "limit": {"type": "integer"},
                                                   "offset": {"type": "integer"},
                                                   "results": {"type": "array",
                                                               "items": CASE_SUMMARY}}},
                                              401, 403, 429)}}},
        "/api/v1/cases/{reference}": {
            "get": {"operationId": "getCase", "summary": "Without a token: the owner's public "
                    "status, found by reference plus email (404 otherwise; 400 without "
                    "email). With a staff or admin token: the whole case with its events "
                    "(audited).",
                    "parameters": [reference, param(
                        "email", {"type": "string", "maxLength": 254,
                                  "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*$"},
                        "The owner's email address (owners only)."), lang],
                    "responses": responses({"oneOf": [PUBLIC_CASE, CASE]}, 401, 403, 404,
                                           429)},
            "patch": {"operationId": "changeCase", "summary": "Change status (only by the "
                      "allowed moves, else 422 invalid_transition), priority, assignee, shop "
                      "or linked bulletins, at `version` (409 when stale)", "security": bearer,
                      "parameters": [reference, lang], "requestBody": body("CasePatch"),
                      "responses": write_responses(200, CASE, 404, 409)}},
        "/api/v1/cases/{reference}/notes": {
            "post": {"operationId": "addCaseNote", "summary": "A note; internal ones are "
                     "never shown to the owner", "security": bearer,
                     "parameters": [reference, lang], "requestBody": body("NoteIn"),
                     "responses": write_responses(201, CASE, 404)}},
        "/api/v1/privacy/export": {
            "post": {"operationId": "exportOwner", "summary": "Everything held on the owner "
                     "with this email, as JSON (audited)", "security": bearer,
                     "parameters": [lang], "requestBody": body("PrivacyRequest"),
                     "responses": write_responses(200, {"type": "object",
                                                        "required": ["cases"]})}},
        "/api/v1/privacy/erase": {
            "post": {"operationId": "eraseOwner", "summary": "Erase the owner's personal "
                     "data; the cases stay, anonymous, for statistics (audited)",
                     "security": bearer, "parameters": [lang],
                     "requestBody": body("PrivacyRequest"),
                     "responses": write_responses(200, {
                         "type": "object", "required": ["erased"],
                         "properties": {"erased": {"type": "array",
                                                   "items": {"type": "string"}}}})}},
    }
    components = {}
    for model in (CaseRequest, CasePatch, NoteIn, PrivacyRequest):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return paths, components


def _public_write(write_responses, status: int, schema: dict) -> dict:
    out = write_responses(status, schema)
    for code in ("401", "403"):
        out.pop(code, None)
    return out
