"""JSON responses come from orjson but read as Flask's own encoder wrote them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask.json.provider import DefaultJSONProvider


@dataclass
class Point:
    lat: float
    lon: float


VALUE = {"name": "Müller & Söhne <Kfz>", "when": datetime(2026, 11, 28, 12, 30, tzinfo=UTC),
         "day": date(2026, 11, 28), "price": Decimal("19.90"), "where": Point(50.1, 8.7),
         "counts": {1: "one", 2: "two"}, "list": [1, 2.5, None, True], "nested": {"a": []}}


def test_the_same_json_as_flasks_own_encoder(app):
    with app.app_context():
        ours = app.json.response(VALUE)
        flask = DefaultJSONProvider(app)
        flask.sort_keys = False
        theirs = flask.response(VALUE)
    assert ours.mimetype == "application/json"
    assert ours.get_data(as_text=True).endswith("\n")
    assert json.loads(ours.get_data()) == json.loads(theirs.get_data())


def test_not_a_number_is_null_rather_than_invalid_json(app):
    with app.app_context():
        body = app.json.response({"x": float("nan"), "y": float("inf")}).get_data(as_text=True)
    assert json.loads(body) == {"x": None, "y": None}


def test_debug_output_is_still_indented(app):
    app.debug = True
    with app.app_context():
        body = app.json.response({"a": [1]}).get_data(as_text=True)
    assert body == '{\n  "a": [\n    1\n  ]\n}\n'
