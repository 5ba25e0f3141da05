"""The markets route in the OpenAPI document (`openapi.spec` adds it)."""

from __future__ import annotations

from collections.abc import Callable

_TEXT = {"type": "string"}
_NULLABLE = {"type": ["string", "null"]}

MARKET = {
    "type": "object",
    "required": ["country", "support", "holidays", "languages", "currency", "distance_unit",
                 "retention_days", "recall_authority", "rmi_note", "battery_takeback_rules",
                 "version"],
    "properties": {
        "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "support": {"type": "object", "required": ["time_zone", "workdays", "opens", "closes"],
                    "description": "Support hours in the market's zone, on `workdays` "
                                   "(ISO weekdays, Monday 1 .. Sunday 7) except holidays.",
                    "properties": {
                        "time_zone": _TEXT,
                        "workdays": {"type": "array", "items": {"type": "integer",
                                                                "minimum": 1, "maximum": 7}},
                        "opens": {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"},
                        "closes": {"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}$"}}},
        "holidays": {"type": "array", "description": "Public holidays of the next 12 months, "
                     "named in the request's language where known.",
                     "items": {"type": "object", "required": ["date", "name"],
                               "properties": {"date": {"type": "string", "format": "date"},
                                              "name": _TEXT}}},
        "languages": {"type": "array", "items": _TEXT},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "distance_unit": {"type": "string", "enum": ["km", "mi"]},
        "retention_days": {"type": "integer", "minimum": 1,
                           "description": "Days a closed case's personal data is kept."},
        "recall_authority": {"type": "object", "required": ["name", "url"],
                             "properties": {"name": _NULLABLE, "url": _NULLABLE}},
        "rmi_note": _TEXT,
        "battery_takeback_rules": _TEXT,
        "version": {"type": "integer", "minimum": 1},
    },
}


def market_paths(*, responses: Callable[..., dict], lang: dict) -> dict:
    """`GET /api/v1/markets/{cc}`."""
    return {"/api/v1/markets/{cc}": {"get": {
        "operationId": "getMarket",
        "summary": "A country's market: support hours and holidays, languages, currency, "
                   "distance unit, retention, recall authority, RMI note, battery take-back",
        "parameters": [{"name": "cc", "in": "path", "required": True,
                        "description": "ISO 3166-1 alpha-2 country code (any case).",
                        "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"}}, lang],
        "responses": responses(MARKET, 404)}}}
