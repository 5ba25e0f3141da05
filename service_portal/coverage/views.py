"""`/staff/coverage`: where owners search and find no authorised or partner shop, as a
ranked table of cells and a map, and `/staff/coverage.csv`."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.numbers import format_percent
from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import fields
from ..catalog.queries import catalog_choices
from ..db import get_session
from ..errors import BadParameter
from ..names import brand_name, country_name
from ..security import role_required
from ..tabular import download, to_csv
from .queries import (
    EXPORT_ROWS,
    WINDOWS,
    coverage_cells,
    coverage_countries,
    coverage_totals,
)

bp = Blueprint("coverage", __name__, url_prefix="/staff")
staff_required = role_required("staff", "admin")
#: The brand filter's value for searches that named no brand.
NO_BRAND = "none"
EXPORT_COLUMNS = ["brand", "country", "cell", "cell_lat", "cell_lon", "place",
                  "searches_30d", "unserved_30d", "searches_365d", "unserved_365d"]


@bp.get("/coverage")
@staff_required
def index():
    session = get_session()
    brands = [(brand.slug, brand.name) for brand, _models in catalog_choices(session)]
    brand, country = _filters({slug for slug, _name in brands})
    today = datetime.now(UTC).date()
    rows = coverage_cells(session, today=today, brand=brand, country=country)
    for row in rows:
        row["share_30"] = _share(row["unserved_30"], row["searches_30"])
        row["share_365"] = _share(row["unserved_365"], row["searches_365"])
    totals = {days: (n, _share(m, n)) for days, (n, m) in
              coverage_totals(session, today=today, brand=brand, country=country).items()}
    cells = [{"bounds": r["bounds"], "ratio": r["unserved_30"] / r["searches_30"]
              if r["searches_30"] else (r["unserved_365"] / r["searches_365"]
                                        if r["searches_365"] else 0.0),
              "label": _cell_label(r)} for r in rows]
    return render_template("coverage/index.html", rows=rows, totals=totals, cells=cells,
                           windows=WINDOWS, brands=brands, countries=coverage_countries(session),
                           brand=request.args.get("brand", ""), country=country or "",
                           no_brand=NO_BRAND)


@bp.get("/coverage.csv")
@staff_required
def export():
    session = get_session()
    brands = {brand.slug for brand, _models in catalog_choices(session)}
    brand, country = _filters(brands)
    rows = coverage_cells(session, today=datetime.now(UTC).date(), brand=brand,
                          country=country, limit=EXPORT_ROWS)
    body = to_csv(EXPORT_COLUMNS, [[r["brand"], r["country"], r["cell"], r["lat"], r["lon"],
                                    r["place"], r["searches_30"], r["unserved_30"],
                                    r["searches_365"], r["unserved_365"]] for r in rows])
    return download(body, "coverage.csv", "text/csv")


def _filters(brands: set[str]) -> tuple[str | None, str | None]:
    """The brand (None: all; "": searches without a brand) and country asked for; a
    value no select offers is a 400 naming it."""
    raw_brand = (request.args.get("brand") or "").strip()
    if not raw_brand:
        brand = None
    elif raw_brand == NO_BRAND:
        brand = ""
    elif raw_brand in brands:
        brand = raw_brand
    else:
        raise BadParameter(_("Unknown brand: %(value)s", value=raw_brand[:80]), field="brand")
    raw_country = (request.args.get("country") or "").strip()
    try:
        country = fields.country(raw_country) if raw_country else None
    except ValueError as exc:
        raise BadParameter(str(exc), field="country") from None
    return brand, country


def _share(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage in the reader's locale ("" for no searches)."""
    return format_percent(part / whole, locale=get_locale()) if whole else ""


def _cell_label(row: dict) -> str:
    """What the map says of a cell: its place, brand and figures, in words."""
    return _("%(place)s (%(country)s), %(brand)s: %(searches)s searches in 30 days, "
             "%(share)s without an authorised or partner shop",
             place=row["place"] or "?", country=country_name(row["country"]),
             brand=brand_name(row["brand"]) if row["brand"] else _("no brand given"),
             searches=row["searches_30"], share=row["share_30"] or "-")
