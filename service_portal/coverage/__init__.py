"""Coverage gaps: where owners search and find no authorised or partner shop.

Every owner search (the API and the search page) is counted anonymously by day, brand,
service and map cell (`cells`), with whether an authorised or partner shop was found
within its radius; `counter` keeps the counts of each process and writes them in
batches; `queries` and `views` show staff where the network is missing.
"""

from __future__ import annotations

import logging

from flask import Flask, after_this_request, current_app, has_request_context

from .counter import BATCH, INTERVAL, Tally, flush_at_exit

__all__ = ["Tally", "app_tally", "count_search", "init_app"]

log = logging.getLogger(__name__)
_KEY = "service_portal.coverage"


def init_app(app: Flask) -> None:
    """Give `app` its tally (settings `COVERAGE_BATCH`, `COVERAGE_INTERVAL_SECONDS`)."""
    tally = Tally(app.extensions["service_portal.engine"],
                  batch=int(app.config.get("COVERAGE_BATCH", BATCH)),
                  interval=float(app.config.get("COVERAGE_INTERVAL_SECONDS", INTERVAL)))
    app.extensions[_KEY] = tally
    flush_at_exit(tally)


def app_tally(app: Flask | None = None) -> Tally:
    return (app or current_app).extensions[_KEY]


def count_search(*, brand: str | None, service: str | None, lat: float, lon: float,
                 served: bool) -> None:
    """Count one owner search; when a batch is due, write it after the response has gone
    out. Never raises: a search must not fail because of counting."""
    try:
        tally = current_app.extensions.get(_KEY)
        if tally is None:
            return
        if tally.add(brand=brand, service=service, lat=lat, lon=lon, served=served) \
                and has_request_context():
            @after_this_request
            def flush_later(response):
                response.call_on_close(tally.flush)
                return response
    except Exception:  # noqa: BLE001 - counting is never worth a failed search
        log.exception("a search was not counted")
