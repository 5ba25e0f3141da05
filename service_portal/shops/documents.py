"""Shop documents as the API shows them (CONTRACT section 4), read in a few queries
whatever the number of shops, and the stock they list."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

from sqlmodel import Session

from ..db import id_bind, id_in
from ..parts.queries import money

# Plain driver SQL read as tuples: a search page builds up to 100 documents per request,
# and ORM statements and type processing cost more than the queries themselves. `{ids}`:
# the shops' ids as one bound list (`db.id_in`).
_SHOPS = (
    "SELECT s.id, s.external_id, s.name, o.slug, s.address, s.city, s.postal_code, "
    "s.country, s.lat, s.lon, s.timezone, s.phone, s.email, s.website, s.opening_hours, "
    "s.hv_level, s.hv_valid_until, s.search_seq FROM shops s JOIN organizations o "
    "ON o.id = s.organization_id WHERE {s_id}")
#: (shop, kind, value, level, order) rows of the three link tables in one round trip
#: (the list bound once for each of the three).
_LINKS = (
    "SELECT sb.shop_id, 0, b.slug, sb.level, CAST(NULL AS INTEGER) FROM shop_brands sb "
    "JOIN brands b ON b.id = sb.brand_id WHERE {sb_shop_id} "
    "UNION ALL SELECT ss.shop_id, 1, sv.slug, NULL, sv.id FROM shop_services ss "
    "JOIN services sv ON sv.id = ss.service_id WHERE {ss_shop_id} "
    "UNION ALL SELECT sl.shop_id, 2, sl.language, NULL, NULL FROM shop_languages sl "
    "WHERE {sl_shop_id}")


def shop_documents(session: Session, ids: list[int], *,
                   part_chains: list[list[int]] | None = None) -> dict[int, dict]:
    """Shops as the API shows them (CONTRACT section 4), keyed by id, with three queries
    whatever the number of shops (see `stamped_documents`). `parts` lists stock (qty > 0)
    of the requested parts and their successors, or, without a request, everything the
    shop has in stock."""
    parts = stock_of(session, ids, part_chains)
    return {shop_id: {**doc, "parts": parts[shop_id]}
            for shop_id, (_stamp, doc) in stamped_documents(session, ids).items()}


def stamped_documents(session: Session, ids: list[int]) -> dict[int, tuple[int, dict]]:
    """(stamp, document without `parts`) of each shop, keyed by id, with two queries.
    Brands come sorted by slug, services in catalog order, languages by code. The stamp
    is the shop's `search_seq`: any change to what the document shows raises it (see
    migration 0005), so a document kept with its stamp is current while they agree."""
    if not ids:
        return {}
    connection = session.connection()
    dialect = connection.dialect.name
    bind = id_bind(dialect, ids)
    brands: dict[int, list] = defaultdict(list)
    services: dict[int, list] = defaultdict(list)
    languages: dict[int, list] = defaultdict(list)
    for shop_id, kind, value, level, order in connection.exec_driver_sql(
            _LINKS.format(**{f"{t}_shop_id": id_in(dialect, f"{t}.shop_id")
                             for t in ("sb", "ss", "sl")}), (bind,) * 3).all():
        if kind == 0:
            brands[shop_id].append((value, level))
        elif kind == 1:
            services[shop_id].append((order, value))
        else:
            languages[shop_id].append(value)
    takeback = _takeback(connection, [shop_id for shop_id, slugs in services.items()
                                      if any(slug == RECYCLING for _o, slug in slugs)])
    docs = {}
    for (shop_id, external_id, name, organization, address, city, postal_code, country, lat,
         lon, zone, phone, email, website, opening_hours, hv_level,
         hv_valid_until, stamp) in connection.exec_driver_sql(
            _SHOPS.format(s_id=id_in(dialect, "s.id")), (bind,)).all():
        docs[shop_id] = stamp, {
            "id": shop_id, "external_id": external_id, "name": name,
            "organization": organization,
            "brands": [{"brand": slug, "level": level}
                       for slug, level in sorted(brands[shop_id])],
            "services": [slug for _order, slug in sorted(services[shop_id])],
            "languages": sorted(languages[shop_id]),
            "address": address, "city": city, "postal_code": postal_code,
            "country": country, "lat": lat, "lon": lon, "timezone": zone,
            "phone": phone, "email": email, "website": website,
            "opening_hours": opening_hours, "hv_level": hv_level,
            "hv_valid_until": _iso_date(hv_valid_until),
            "takeback": takeback.get(shop_id),
        }
    return docs


#: The service of a battery take-back point.
RECYCLING = "battery-recycling"


def _takeback(connection, ids: list[int]) -> dict[int, dict]:
    """What each of the take-back points `ids` takes (`shop_takeback`), read only when a
    document shows such a shop: `{"chemistries", "damaged", "max_weight_kg", "free",
    "scheme"}`."""
    if not ids:
        return {}
    dialect = connection.dialect.name
    rows = connection.exec_driver_sql(
        "SELECT shop_id, chemistries, damaged, max_weight_kg, free, scheme FROM shop_takeback "
        f"WHERE {id_in(dialect, 'shop_id')}", (id_bind(dialect, ids),)).all()
    return {shop_id: {"chemistries": [c for c in (chemistries or "").split(";") if c],
                      "damaged": bool(damaged), "max_weight_kg": weight,
                      "free": bool(free), "scheme": scheme or None}
            for shop_id, chemistries, damaged, weight, free, scheme in rows}


def _iso_date(value) -> str | None:
    """A date column as ISO text (SQLite hands plain SQL its stored text already)."""
    if value is None:
        return None
    return value if isinstance(value, str) else value.isoformat()


def stock_of(session: Session, ids: list[int],
             part_chains: list[list[int]] | None) -> dict[int, list[dict]]:
    """Stock (qty > 0) of each shop by part number: of the parts in `part_chains` (none
    when empty), or everything without a request."""
    out: dict[int, list[dict]] = defaultdict(list)
    wanted = None if part_chains is None else sorted({p for c in part_chains for p in c})
    if not ids or wanted == []:
        return out
    connection = session.connection()
    dialect = connection.dialect.name
    bind = (id_bind(dialect, ids),) if wanted is None else (id_bind(dialect, ids),
                                                            id_bind(dialect, wanted))
    rows = connection.exec_driver_sql(_stock(dialect, wanted is not None), bind).all()
    for shop_id, pn, qty, price, currency in sorted(rows, key=lambda r: (r[0], r[1])):
        out[shop_id].append({"part_number": pn, "qty": qty, "price": money(price),
                             "currency": currency})
    return out


@lru_cache(maxsize=8)
def _stock(dialect: str, of_parts: bool) -> str:
    parts = f" AND {id_in(dialect, 'st.part_id')}" if of_parts else ""
    return ("SELECT st.shop_id, p.part_number, st.qty, st.price, st.currency FROM stock st "
            f"JOIN parts p ON p.id = st.part_id WHERE {id_in(dialect, 'st.shop_id')} "
            f"AND st.qty > 0{parts}")
