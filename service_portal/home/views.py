"""The owner search page (`/`, the parameters of `GET /api/v1/shops`) and `/healthz`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import text
from werkzeug.datastructures import MultiDict

from ..catalog.queries import vin_mismatch
from ..db import get_session
from ..errors import PortalError, retry_after
from ..formats import default_radius
from ..notifications.outbox import backlog as outbox_backlog
from ..search import MAX_RADIUS_KM, app_index, parse_search_args, search
from ..search.location import found_place, locate
from ..security import limiter, rate_limit_health, token_required
from ..shops.views import marker
from .queries import portal_counts, search_choices, vehicle_from_vin

bp = Blueprint("home", __name__)

#: Filters a reader can drop from an empty result, in the order offered.
FILTERS = ("vin", "brand", "model", "service", "part", "language", "authorization",
           "hv_level", "open_now", "takes_chemistry", "takes_damaged")


def _search_limit() -> str:
    return current_app.config["SEARCH_RATE_LIMIT"]


def _not_searching() -> bool:
    return not (request.args.get("near", "").strip() or request.args.get("lat", "").strip())


@bp.get("/")
@limiter.limit(_search_limit, exempt_when=_not_searching)
def index():
    session = get_session()
    choices = search_choices(session)
    context: dict = {"choices": choices, "args": request.args, "found": None, "error": None,
                     "vin": None, "brand": None}
    status = 200
    try:
        params = parse_search_args(request.args, strict=False, require_location=False)
        if not request.args.get("radius_km"):
            params.radius_km = default_radius()[1]  # round miles for readers of miles
        vin_text = (request.args.get("vin") or "").strip()
        if vin_text:
            info = vehicle_from_vin(session, vin_text)
            if params.brand and params.brand != info.brand:
                raise vin_mismatch("brand")
            params.brand = info.brand
            params.model = params.model or info.model
            context["vin"] = info
        context["brand"] = params.brand or choices["model_brand"].get(params.model or "")
        if params.lat is not None or params.near:
            context["found"] = found = search(params, counted=True)
            if params.near and params.lat is None:
                # The place as the owner typed it heads the results; what it was found as,
                # in the owner's language, follows ("الرياض" stays "الرياض").
                context["place_found"] = found_place(locate(params), params.near)
            context["markers"] = [marker(r) for r in found["results"]]
            context["pages"] = _pages(found)
            context["widen"] = _widen(params.radius_km, found)
    except PortalError as exc:
        context["error"], status = exc, exc.status
    if context["found"] is None:
        context["counts"] = portal_counts(session)
    return render_template("home/index.html", **context), status


def link_with(**changes) -> str:
    """This page's link with some parameters replaced (a value of None drops one)."""
    args = MultiDict(request.args)
    for name, value in changes.items():
        if value is None:
            args.poplist(name)
        elif isinstance(value, list):
            args.setlist(name, value)
        else:
            args.setlist(name, [str(value)])
    return url_for(request.endpoint, **request.view_args, **args.to_dict(flat=False))


def _pages(found: dict) -> dict:
    limit, offset, total = found["limit"], found["offset"], found["total"]
    return {
        "first": offset + 1, "last": offset + len(found["results"]),
        "prev": link_with(offset=max(0, offset - limit) or None) if offset > 0 else None,
        "next": link_with(offset=offset + limit) if offset + limit < total else None,
        "start": link_with(offset=None) if offset and not found["results"] else None,
    }


def _widen(radius_km: float, found: dict) -> dict | None:
    """For an empty result: a larger radius, and each active filter to drop."""
    if found["total"]:
        return None
    wider = min(MAX_RADIUS_KM, radius_km * 2)
    drops = []
    for name in FILTERS:
        values = [v for v in request.args.getlist(name) if v.strip()]
        if name in ("service", "part"):
            for value in values:
                rest = [v for v in values if v != value]
                drops.append((name, value, link_with(offset=None, **{name: rest or None})))
        elif values:
            extra = {"authorization": None} if name in ("brand", "model", "vin") else {}
            drops.append((name, values[0], link_with(offset=None, **{name: None}, **extra)))
    return {"radius_km": wider if wider > radius_km else None,
            "radius_link": link_with(radius_km=f"{wider:g}", offset=None), "drops": drops}


@bp.app_template_global()
def filter_label(name: str, value: str) -> str:
    """An active filter in words, for the links that drop it."""
    from ..names import language_name, vocab
    from ..shops.takeback import chemistry_name

    choices = search_choices(get_session())
    shown = {
        "vin": lambda: _("VIN %(vin)s", vin=value),
        "brand": lambda: _("brand %(brand)s", brand=choices["brand_names"].get(value, value)),
        "model": lambda: _("model %(model)s", model=choices["model_names"].get(value, value)),
        "service": lambda: vocab("service", value),
        "part": lambda: _("part %(part)s", part=value),
        "language": lambda: language_name(value),
        "authorization": lambda: vocab("level", value),
        "hv_level": lambda: vocab("hv", value),
        "open_now": lambda: _("Open now"),
        "takes_chemistry": lambda: _("takes back %(chemistry)s batteries",
                                     chemistry=chemistry_name(value.lower())),
        "takes_damaged": lambda: _("takes damaged or defective packs"),
    }
    return shown[name]()


@bp.app_template_global()
def page_link(**changes) -> str:
    return link_with(**changes)


@bp.get("/healthz")
def healthz():
    """For load balancers: answers 200 only when the database answers. With `detail=1`
    and a staff or admin token, also this process's search index and the outbox's backlog
    (CONTRACT section 15)."""
    try:
        get_session().execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - anything but an answer means: not healthy
        seconds = retry_after(exc)
        if seconds is None:
            raise
        response = jsonify({"status": "unavailable"})
        response.status_code = 503
        response.headers["Retry-After"] = str(seconds)
        return response
    if request.args.get("detail") == "1":
        return _health_detail()
    return jsonify({"status": "ok"})


@token_required("staff", "admin")
def _health_detail():
    response = jsonify({"status": "ok", "search_index": app_index().report(),
                        "rate_limits": rate_limit_health(),
                        "outbox": outbox_backlog(get_session())})
    response.headers["Cache-Control"] = "no-store"
    return response
