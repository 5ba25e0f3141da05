"""The shop search, one package: every domain that searches calls `search(params)`.

- `params`: the query parameters of CONTRACT section 4, checked (`parse_search_args`);
  `location` finds the centre; `resolve` turns names into ids.
- `index`: each app's in-memory copy of what the search filters on (`columns`), kept
  exact by the change feed the database writes itself (`changes`).
- `exact`: the exact geodesic search over the index; `stock` asks the database which
  candidates hold a part; `response` shapes the answer; `check` reconciles the index
  with the database.

`init_app` gives each app its index (in `app.extensions`), found the same way by any
request, reader or writer. `warm_up` makes a process ready before it takes requests.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app

from .index import ShopIndex
from .location import locate_place
from .params import MAX_RADIUS_KM, REPEATABLE, SINGLE, SearchParams, parse_search_args
from .response import search_response

__all__ = ["MAX_RADIUS_KM", "REPEATABLE", "SINGLE", "SearchParams", "app_index", "init_app",
           "locate_place", "parse_search_args", "search", "warm_up", "worker_ready"]

log = logging.getLogger(__name__)
_KEY = "service_portal.search_index"


def init_app(app: Flask) -> None:
    """Give `app` its index (loaded on first use or by `warm_up`)."""
    app.extensions[_KEY] = ShopIndex(app.extensions["service_portal.engine"])


def app_index(app: Flask | None = None) -> ShopIndex:
    """The index of `app` (by default the current one)."""
    return (app or current_app).extensions[_KEY]


def search(params: SearchParams, *, base: dict | None = None, counted: bool = False) -> dict:
    """Search in the current request and return the response of CONTRACT section 4
    (`base` adds keys to its `query`). `counted`: an owner's search (the API, the search
    page), counted anonymously for the coverage figures (`coverage`)."""
    return search_response(app_index(), params, base=base, counted=counted)


def warm_up(app: Flask) -> bool:
    """Load what the first search needs (the index, the gazetteer, the templates, one
    search's code paths) so that no owner waits for it, then close the database
    connections it opened (`serve` runs this once before forking its workers). Returns
    False, and leaves the index to the first search, when the database cannot be read."""
    from ..geo.gazetteer import get_gazetteer

    get_gazetteer()
    for name in app.jinja_env.list_templates(extensions=("html",)):
        app.jinja_env.get_template(name)
    try:
        with app.test_request_context("/api/v1/shops"):
            app_index(app).current()
            # One search through the paths every search takes, documents included.
            search(SearchParams(lat=52.52, lon=13.405, sort="best", open_now=True))
        # The search page once: its templates, Babel's data and the place lookup.
        app.test_client().get("/", query_string={"near": "Berlin"})
    except Exception:  # noqa: BLE001 - a worker must start even while the database is down
        log.exception("search warm-up failed; the first search will load the index")
        return False
    finally:
        # Closes the index's connections too: a forked worker must open its own.
        app.extensions["service_portal.engine"].dispose()
    return True


def worker_ready(app: Flask) -> None:
    """In a worker just forked from a warmed-up process: connections of its own, and
    the index brought up to date before the worker takes requests."""
    app.extensions["service_portal.engine"].dispose(close=False)
    try:
        with app.test_request_context("/api/v1/shops"):
            # Catches up with changes since the fork, and leaves a pooled connection.
            search(SearchParams(lat=52.52, lon=13.405))
    except Exception:  # noqa: BLE001 - the first search tries again
        log.exception("search index not brought up to date; the first search will")
