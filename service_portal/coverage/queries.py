"""Reading the coverage aggregate: cells ranked by searches that found no authorised or
partner shop, over the last 30 and 365 days."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlmodel import Session

from .cells import cell_bounds, cell_centre, cell_place
from .models import CoverageDay

#: The windows shown, days (today included).
WINDOWS = (30, 365)
PAGE_ROWS = 200
EXPORT_ROWS = 10_000


def coverage_cells(session: Session, *, today: date, brand: str | None = None,
                   country: str | None = None, limit: int = PAGE_ROWS) -> list[dict]:
    """Per brand ("" for searches without one) and cell: searches and searches without an
    authorised or partner shop in the last 30 and 365 days, most unserved (30 days, then
    365) first, each with its cell's bounds and the place nearest its centre."""
    short, long = (today - timedelta(days=d - 1) for d in WINDOWS)
    c = CoverageDay
    recent = c.day >= short
    unserved = c.searches - c.with_authorised_or_partner
    s30 = func.sum(case((recent, c.searches), else_=0))
    u30 = func.sum(case((recent, unserved), else_=0))
    s365, u365 = func.sum(c.searches), func.sum(unserved)
    query = (select(c.brand, c.cell, c.country, s30, u30, s365, u365)
             .where(c.day >= long, c.day <= today)
             .group_by(c.brand, c.cell, c.country)
             .order_by(u30.desc(), u365.desc(), s365.desc(), c.brand, c.cell).limit(limit))
    if brand is not None:
        query = query.where(c.brand == brand)
    if country:
        query = query.where(c.country == country)
    out = []
    for brand_slug, cell, cc, n30, m30, n365, m365 in session.execute(query).all():
        place = cell_place(cell)
        lat, lon = cell_centre(cell)
        out.append({"brand": brand_slug, "cell": cell, "country": cc, "lat": lat, "lon": lon,
                    "bounds": cell_bounds(cell), "place": place.name if place else "",
                    "searches_30": int(n30 or 0), "unserved_30": int(m30 or 0),
                    "searches_365": int(n365 or 0), "unserved_365": int(m365 or 0)})
    return out


def coverage_totals(session: Session, *, today: date, brand: str | None = None,
                    country: str | None = None) -> dict[int, tuple[int, int]]:
    """{days: (searches, searches without an authorised or partner shop)} per window."""
    c = CoverageDay
    out = {}
    for days in WINDOWS:
        query = select(func.sum(c.searches), func.sum(c.searches - c.with_authorised_or_partner)
                       ).where(c.day >= today - timedelta(days=days - 1), c.day <= today)
        if brand is not None:
            query = query.where(c.brand == brand)
        if country:
            query = query.where(c.country == country)
        searches, unserved = session.execute(query).one()
        out[days] = (int(searches or 0), int(unserved or 0))
    return out


def coverage_countries(session: Session) -> list[str]:
    """Countries searched in (codes, sorted)."""
    return sorted(cc for cc in session.scalars(select(CoverageDay.country).distinct()) if cc)
