"""The OpenAPI 3 description of the public API (`/api/v1/openapi.json`).

Enums and ranges come from the same constants the code checks, so the description
cannot drift from the behaviour; a schemathesis test holds it to the live app.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from .bulletins.api import MAX_YEAR, MIN_YEAR
from .bulletins.models import BULLETIN_KINDS, SEVERITIES
from .bulletins.schemas import BulletinIn
from .catalog.models import POWERTRAINS
from .catalog.vin import VIN_INPUT_PATTERN
from .config import SUPPORTED_LOCALES
from .params import MAX_TEXT
from .search.params import (
    DEFAULT_RADIUS_KM,
    HV_MINIMUMS,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_RADIUS_KM,
    MAX_REPEATS,
    SORTS,
)
from .shops.models import AUTH_LEVELS, HV_LEVELS
from .vocabulary import MATCH_REASONS, SERVICES

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

_SLUG = {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 80}
_TEXT = {"type": "string", "maxLength": MAX_TEXT, "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*$"}
_PART = {"type": "string", "pattern": r"^\s*[A-Za-z0-9][A-Za-z0-9.\-/]{0,39}\s*$"}


def _param(name: str, schema: dict, description: str, *, required: bool = False,
           repeat: bool = False) -> dict:
    param = {"name": name, "in": "query", "required": required, "description": description,
             "schema": {"type": "array", "items": schema, "maxItems": MAX_REPEATS}
             if repeat else schema}
    if repeat:
        param.update({"style": "form", "explode": True})
    return param


LOCATION_PARAMS = [
    _param("lat", {"type": "number", "minimum": -90, "maximum": 90},
           "Latitude of the search centre (WGS-84 degrees); with lon."),
    _param("lon", {"type": "number", "minimum": -180, "maximum": 180},
           "Longitude of the search centre; with lat."),
    _param("near", _TEXT, "A place name in any language or script, or \"lat,lon\". "
           "Either near or lat/lon is required."),
    _param("country", {"type": "string", "pattern": "^[A-Za-z]{2}$"},
           "ISO 3166-1 alpha-2 code to disambiguate near."),
    _param("radius_km", {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RADIUS_KM,
                         "default": DEFAULT_RADIUS_KM}, "Search radius (geodesic km)."),
    _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20},
           "Results per page."),
    _param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
           "Results to skip."),
]
FILTER_PARAMS = [
    _param("brand", _SLUG, "Brand slug, e.g. byd."),
    _param("model", _SLUG, "Model slug, e.g. byd-seal; implies its brand."),
    _param("service", {"type": "string", "enum": list(SERVICES)},
           "Service slug; repeat for several, all must be offered.", repeat=True),
    _param("part", _PART, "Part number in stock (qty > 0; successors count); repeat for "
           "several, all must be in stock.", repeat=True),
    _param("language", {"type": "string", "pattern": "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?$"},
           "BCP 47 language spoken at the shop; `pt` also matches `pt-BR`."),
    _param("authorization", {"type": "string", "enum": list(AUTH_LEVELS)},
           "Minimum authorisation level for brand (needs brand or model)."),
    _param("hv_level", {"type": "string", "enum": list(HV_MINIMUMS)},
           "Minimum high-voltage qualification (DGUV 209-093), still valid."),
    _param("open_now", {"type": "string", "enum": ["true", "false"]},
           "Open right now in the shop's time zone (unknown hours are never open)."),
    _param("takes_chemistry", _SLUG, "Battery take-back points (service battery-recycling) "
           "taking this battery chemistry, a catalog code such as lfp or nmc."),
    _param("takes_damaged", {"type": "string", "enum": ["true", "false"]},
           "true: battery take-back points that take damaged or defective packs."),
    _param("sort", {"type": "string", "enum": list(SORTS), "default": "distance"},
           "distance (then id) or best (authorisation for the brand, open now, HV level, "
           "distance)."),
]
LANG = _param("lang", {"type": "string"}, "Language of messages and names (falls back quietly "
              "to Accept-Language, then English).")

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "field", "details"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "field": {"type": ["string", "null"]}, "details": {"type": "array"}}}}}

_STOCK = {"type": "object", "required": ["part_number", "qty", "price", "currency"],
          "properties": {"part_number": {"type": "string"}, "qty": {"type": "integer",
                                                                     "minimum": 0},
                         "price": {"type": ["string", "null"],
                                   "pattern": r"^\d+\.\d{2}$"},
                         "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}}
SHOP = {
    "type": "object",
    "required": ["id", "external_id", "name", "organization", "brands", "services",
                 "languages", "address", "city", "postal_code", "country", "lat", "lon",
                 "timezone", "phone", "email", "website", "opening_hours", "hv_verified",
                 "open_now",
                 "next_change", "parts"],
    "properties": {
        "id": {"type": "integer"}, "external_id": {"type": "string"},
        "name": {"type": "string"}, "organization": {"type": "string"},
        "brands": {"type": "array", "items": {
            "type": "object", "required": ["brand", "level", "verified"],
            "properties": {"brand": {"type": "string"},
                           "level": {"type": "string", "enum": list(AUTH_LEVELS)},
                           "verified": {"type": "boolean", "description":
                                        "Staff checked valid evidence of this authorisation; "
                                        "false: declared by the shop"}}}},
        "services": {"type": "array", "items": {"type": "string"}},
        "languages": {"type": "array", "items": {"type": "string"}},
        "address": {"type": "string"}, "city": {"type": "string"},
        "postal_code": {"type": "string"}, "country": {"type": "string"},
        "lat": {"type": "number"}, "lon": {"type": "number"}, "timezone": {"type": "string"},
        "phone": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]},
        "website": {"type": ["string", "null"]},
        "opening_hours": {"type": ["string", "null"]},
        "hv_level": {"type": "string", "enum": list(HV_LEVELS)},
        "hv_valid_until": {"type": ["string", "null"], "format": "date"},
        "hv_verified": {"type": "boolean", "description":
                        "Staff checked a valid technician's certificate at hv_level or above"},
        "open_now": {"type": "boolean"},
        "next_change": {"type": ["string", "null"], "format": "date-time"},
        "parts": {"type": "array", "items": _STOCK},
        "takeback": {"type": ["object", "null"], "description":
                     "What a battery take-back point takes (shops offering "
                     "battery-recycling that stated it); null otherwise",
                     "properties": {
                         "chemistries": {"type": "array", "items": {"type": "string"}},
                         "damaged": {"type": "boolean"},
                         "max_weight_kg": {"type": ["integer", "null"]},
                         "free": {"type": "boolean"},
                         "scheme": {"type": ["string", "null"]}}},
    },
}
HIT = {"allOf": [SHOP, {"type": "object", "required": ["distance_km", "match_reasons"],
                        "properties": {
                            "distance_km": {"type": "number", "minimum": 0},
                            "match_reasons": {"type": "array", "items": {
                                "type": "string", "enum": list(MATCH_REASONS)}}}}]}
SEARCH_RESPONSE = {
    "type": "object", "required": ["query", "total", "limit", "offset", "results"],
    "properties": {
        "query": {"type": "object", "required": ["lat", "lon", "place", "radius_km", "sort"],
                  "properties": {"lat": {"type": "number"}, "lon": {"type": "number"},
                                 "place": {"type": ["string", "null"]},
                                 "radius_km": {"type": "number"},
                                 "sort": {"type": "string", "enum": list(SORTS)}}},
        "total": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer"}, "offset": {"type": "integer"},
        "results": {"type": "array", "items": HIT},
    },
}


_VIN_TEXT = {"type": "string", "pattern": VIN_INPUT_PATTERN}
_NULLABLE_TEXT = {"type": ["string", "null"]}
VIN_INFO = {
    "type": "object",
    "required": ["vin", "valid", "checksum_ok", "wmi", "brand", "model_year", "model"],
    "properties": {
        "vin": {"type": "string", "pattern": "^[A-HJ-NPR-Z0-9]{17}$"},
        "valid": {"type": "boolean"},
        "checksum_ok": {"type": "boolean", "description": "Check digit (position 9) right; "
                        "advisory only, mandatory in North America and China alone."},
        "wmi": _NULLABLE_TEXT, "brand": _NULLABLE_TEXT,
        "model_year": {"type": ["integer", "null"]}, "model": _NULLABLE_TEXT,
        "brands": {"type": "array", "items": {"type": "string"},
                   "description": "The brands the WMI may stand for; several when a group "
                                  "shares it (then `brand` is null and the model tells)."},
    },
}
BULLETIN = {
    "type": "object",
    "required": ["code", "kind", "brand", "models", "year_from", "year_to", "countries",
                 "severity", "published", "title", "summary", "lang", "fallback"],
    "properties": {
        "code": {"type": "string"}, "kind": {"type": "string", "enum": list(BULLETIN_KINDS)},
        "brand": {"type": "string"},
        "models": {"type": "array", "items": {"type": "string"},
                   "description": "Empty: every model of the brand."},
        "year_from": {"type": ["integer", "null"]}, "year_to": {"type": ["integer", "null"]},
        "countries": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{2}$"},
                      "description": "Empty: every market."},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "published": {"type": "string", "format": "date"},
        "title": {"type": "string"}, "summary": {"type": "string"},
        "lang": {"type": ["string", "null"], "enum": [*SUPPORTED_LOCALES, None]},
        "fallback": {"type": "boolean",
                     "description": "True when the text is not in the requested language."},
    },
}
BULLETIN_DETAIL = {"allOf": [BULLETIN, {
    "type": "object", "required": ["body", "body_html"],
    "properties": {"body": {"type": "string", "description": "Markdown source."},
                   "body_html": {"type": "string", "description": "Rendered and sanitised."}}}]}
BULLETIN_PARAMS = [
    _param("brand", _SLUG, "Brand slug; brand, model or vin is required."),
    _param("model", _SLUG, "Model slug; implies its brand."),
    _param("year", {"type": "integer", "minimum": MIN_YEAR, "maximum": MAX_YEAR},
           "Model year of the vehicle."),
    _param("vin", _VIN_TEXT, "VIN; implies brand, model year and, where known, model."),
    _param("country", {"type": "string", "pattern": "^[A-Za-z]{2}$"},
           "ISO 3166-1 alpha-2 market of the vehicle."),
    _param("kind", {"type": "string", "enum": list(BULLETIN_KINDS)}, "Only this kind."),
]


def _responses(ok_schema: dict, *codes: int) -> dict:
    out = {"200": {"description": "OK", "content": {"application/json": {"schema": ok_schema}}}}
    for code in sorted({400, *codes}):  # every route refuses unknown or repeated parameters
        out[str(code)] = {"description": "Error (CONTRACT section 9)",
                          "content": {"application/json": {"schema": ERROR}}}
    return out


def _write_responses(ok_status: int, ok_schema: dict, *codes: int) -> dict:
    """Responses of a token-authenticated JSON write (CONTRACT sections 6, 9 and 10)."""
    out = {str(ok_status): {"description": "Stored", "content": {
        "application/json": {"schema": ok_schema}}}}
    descriptions = {400: "Unknown query parameter, or a body that is not JSON, too large or "
                         "nested too deeply", 401: "No or an unknown token",
                    403: "The token's user is not staff or an admin",
                    404: "No such bulletin or case",
                    409: "A bulletin with this code exists already (use PUT), or the case "
                         "changed since `version`",
                    413: "Request larger than MAX_UPLOAD_MB",
                    415: "Content-Type is not application/json",
                    422: "Invalid fields (every one in details), an unknown brand, model, "
                         "service, shop or place, or a move the case rules do not allow",
                    429: "Too many failed token attempts, or too many new cases"}
    for code in sorted({400, 401, 403, 413, 415, 422, 429, *codes}):
        out[str(code)] = {"description": descriptions[code],
                          "content": {"application/json": {"schema": ERROR}}}
    return out


def bulletin_input() -> tuple[dict, dict]:
    """The staff bulletin body as `BulletinIn` checks it, and its named sub-schemas; what
    its validators add (English required, known locales) is stated here too."""
    schema = BulletinIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    texts = schema["properties"]["texts"]
    texts.update({"required": ["en"], "propertyNames": {"enum": list(SUPPORTED_LOCALES)},
                  "description": "Texts per portal locale; English is required."})
    schema["properties"]["countries"]["items"].update({"pattern": "^[A-Za-z]{2}$"})
    return schema, components


def _list_of(item: dict) -> dict:
    return {"type": "object", "required": ["results"],
            "properties": {"results": {"type": "array", "items": item}}}


def spec() -> dict:
    """The whole description, built from the code's own constants."""
    search_params = LOCATION_PARAMS + FILTER_PARAMS + [LANG]
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Service Portal API", "version": "1",
                 "description": "Find shops that can fix Chinese new-energy vehicles abroad."},
        "paths": {
            "/api/v1/shops": {"get": {
                "operationId": "searchShops", "summary": "Search shops around a place",
                "parameters": search_params,
                "responses": _responses(SEARCH_RESPONSE, 400, 422, 429, 503)}},
            "/api/v1/shops/{id}": {"get": {
                "operationId": "getShop", "summary": "One shop",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 1,
                                           "maximum": 2 ** 31 - 1}}, LANG],
                "responses": _responses(SHOP, 404)}},
            "/api/v1/places": {"get": {
                "operationId": "places", "summary": "Up to 10 places for autocompletion",
                "parameters": [_param("q", _TEXT, "What the user typed so far.",
                                      required=True),
                               _param("country", {"type": "string",
                                                  "pattern": "^[A-Za-z]{2}$"},
                                      "Only places in this country."), LANG],
                "responses": _responses(_list_of({
                    "type": "object", "required": ["name", "country", "label", "lat", "lon"],
                    "properties": {"name": {"type": "string"}, "country": {"type": "string"},
                                   "label": {"type": "string"}, "lat": {"type": "number"},
                                   "lon": {"type": "number"},
                                   "population": {"type": "integer"}}}), 400)}},
            "/api/v1/brands": {"get": {
                "operationId": "brands", "summary": "Brands", "parameters": [LANG],
                "responses": _responses(_list_of({
                    "type": "object", "required": ["brand", "name"],
                    "properties": {"brand": {"type": "string"}, "name": {"type": "string"},
                                   "group": {"type": ["string", "null"]}}}))}},
            "/api/v1/models": {"get": {
                "operationId": "models", "summary": "Vehicle models, optionally of one brand",
                "parameters": [_param("brand", _SLUG, "Brand slug."), LANG],
                "responses": _responses(_list_of({
                    "type": "object", "required": ["model", "brand", "name", "powertrain"],
                    "properties": {"model": {"type": "string"}, "brand": {"type": "string"},
                                   "name": {"type": "string"},
                                   "year_from": {"type": "integer"},
                                   "year_to": {"type": ["integer", "null"]},
                                   "powertrain": {"type": "string", "enum": list(POWERTRAINS)},
                                   "powertrain_name": {"type": "string"},
                                   "battery_chemistry": {"type": "string"},
                                   "body": {"type": ["string", "null"]}}}), 400, 422)}},
            "/api/v1/services": {"get": {
                "operationId": "services", "summary": "Services, named in the reader's language",
                "parameters": [LANG],
                "responses": _responses(_list_of({
                    "type": "object", "required": ["service", "name"],
                    "properties": {"service": {"type": "string", "enum": list(SERVICES)},
                                   "name": {"type": "string"}}}))}},
            "/api/v1/vin/{vin}": {"get": {
                "operationId": "decodeVin", "summary": "Brand, model year and model of a VIN",
                "parameters": [{"name": "vin", "in": "path", "required": True,
                                "schema": _VIN_TEXT}, LANG],
                "responses": _responses(VIN_INFO, 422)}},
            "/api/v1/bulletins": {"get": {
                "operationId": "bulletins", "summary": "Bulletins that apply to a vehicle, "
                "newest first",
                "parameters": BULLETIN_PARAMS + [LANG],
                "responses": _responses(_list_of(BULLETIN), 422)}},
            "/api/v1/bulletins/{code}": {"get": {
                "operationId": "getBulletin", "summary": "One bulletin with its full body",
                "parameters": [{"name": "code", "in": "path", "required": True,
                                "schema": {"type": "string", "maxLength": 40,
                                           "pattern": "^[A-Za-z0-9][A-Za-z0-9-]+$"}}, LANG],
                "responses": _responses(BULLETIN_DETAIL, 404)}},
        },
        "x-locales": list(SUPPORTED_LOCALES),
    }
    body, components = bulletin_input()
    code_param = {"name": "code", "in": "path", "required": True,
                  "schema": {"type": "string", "maxLength": 40,
                             "pattern": "^[A-Za-z0-9][A-Za-z0-9-]+$"}}
    write = {"security": [{"bearerAuth": []}],
             "requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/BulletinIn"}}}}}
    doc["paths"]["/api/v1/bulletins"]["post"] = {
        "operationId": "createBulletin", "summary": "Publish a bulletin (staff or admin); "
        "audited", "parameters": [LANG], **write,
        "responses": _write_responses(201, BULLETIN_DETAIL, 409)}
    doc["paths"]["/api/v1/bulletins/{code}"]["put"] = {
        "operationId": "replaceBulletin", "summary": "Replace a bulletin, all its texts "
        "included (staff or admin); audited when something changed. The body's code must "
        "be the address's (else 422).", "parameters": [code_param, LANG], **write,
        "responses": _write_responses(200, BULLETIN_DETAIL, 404)}
    doc["components"] = {
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "An API token of a staff or admin user (`service-portal "
                           "create-token`)."}},
        "schemas": {**components, "BulletinIn": body}}
    from .cases.openapi import case_paths
    from .notifications.schemas import AlertRequest

    doc["paths"]["/api/v1/alerts"] = {"post": {
        "operationId": "subscribeAlerts", "summary": "Ask for recall alerts for a car (a VIN, "
        "or a model and year) by email; the same 202 whether or not the address is known. "
        "The alerts start once the link in the confirmation email (valid 72 h) is opened.",
        "parameters": [LANG], "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/AlertRequest"}}}},
        "responses": {
            **{code: answer for code, answer in _write_responses(202, {
                "type": "object", "required": ["status", "message"],
                "properties": {"status": {"type": "string", "enum": ["pending_confirmation"]},
                               "message": {"type": "string"}}}).items()
               if code not in ("401", "403")}}}}
    alert_schema = AlertRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    doc["components"]["schemas"].update(alert_schema.pop("$defs", {}))
    doc["components"]["schemas"]["AlertRequest"] = alert_schema

    paths, schemas = case_paths(param=_param, responses=_responses,
                                write_responses=_write_responses, lang=LANG, error=ERROR)
    doc["paths"].update(paths)
    doc["components"]["schemas"].update(schemas)
    from .markets.openapi import market_paths

    doc["paths"].update(market_paths(responses=_responses, lang=LANG))
    return doc


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(spec())
