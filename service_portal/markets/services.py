"""Writing markets: loading the reference file and an operator's edits, each audited.

A market an operator edited (`edited_at` set) is theirs: loading the reference file again
leaves it as they left it.
"""

from __future__ import annotations

import csv
from datetime import time
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from flask_babel import gettext as _
from sqlalchemy import update
from sqlmodel import Session, select

from .. import fields
from ..audit.actors import Actor
from ..audit.services import record
from ..db import utcnow
from ..errors import Conflict, Invalid
from ..names import zone_names
from ..tabular import ImportFailed, RowError
from .models import DISTANCE_UNITS, Market

#: The markets of the reference data: one row per country.
MARKETS_FILE = Path(__file__).resolve().parent.parent / "reference" / "markets.csv"
#: The fields an operator may change (the country is the row's key).
EDITABLE = ("time_zone", "workdays", "opens", "closes", "languages", "currency",
            "distance_unit", "retention_days", "recall_authority", "recall_url", "rmi_note",
            "takeback_rules")
#: Retention from one day to twenty years.
MAX_RETENTION_DAYS = 7305
_TEXT_LIMITS = {"recall_authority": 200, "recall_url": 300, "rmi_note": 4000,
                "takeback_rules": 4000}


def _refuse(message: str, field: str) -> Invalid:
    return Invalid(message, code="invalid_market", field=field)


def _time(value: Any, field: str) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    text = str(value or "").strip()
    try:
        hours, minutes = text.split(":")
        if not (hours.isascii() and hours.isdigit() and minutes.isascii()
                and minutes.isdigit() and len(minutes) == 2):
            raise ValueError
        return time(int(hours), int(minutes))
    except ValueError:
        raise _refuse(_("Not a time of day (HH:MM): %(value)s", value=text[:20]),
                      field) from None


def _languages(value: Any) -> list[str]:
    codes = value.split(";") if isinstance(value, str) else list(value or [])
    out: list[str] = []
    for code in (str(c).strip() for c in codes):
        if not code:
            continue
        try:
            Locale.parse(code)
        except (ValueError, UnknownLocaleError):
            raise _refuse(_("Not a language code: %(value)s", value=code[:20]),
                          "languages") from None
        if code not in out:
            out.append(code)
    if not out:
        raise _refuse(_("Name at least one support language."), "languages")
    return out


def _workdays(value: Any) -> str:
    days = {str(d) for d in (value if not isinstance(value, str) else list(value.strip()))}
    if not days or not days <= set("1234567"):
        raise _refuse(_("Choose at least one working day."), "workdays")
    return "".join(sorted(days))


def check_market(values: dict[str, Any]) -> dict[str, Any]:
    """The values of a market, checked: a known time zone, at least one working day,
    opening before closing, languages and currency codes that exist, a distance unit, a
    retention of 1 to 7305 days, an http(s) recall page; a 422 naming the field otherwise."""
    zone = str(values.get("time_zone") or "").strip()
    if zone not in zone_names():
        raise _refuse(_("Unknown time zone: %(value)s", value=zone[:64]), "time_zone")
    opens, closes = _time(values.get("opens"), "opens"), _time(values.get("closes"), "closes")
    if opens >= closes:
        raise _refuse(_("Support must open before it closes."), "closes")
    try:
        currency = fields.currency(str(values.get("currency") or ""))
    except ValueError as exc:
        raise _refuse(str(exc), "currency") from None
    unit = values.get("distance_unit")
    if unit not in DISTANCE_UNITS:
        raise _refuse(_("Choose km or mi."), "distance_unit")
    raw = str(values.get("retention_days") or "").strip()
    retention = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 8 else None
    if retention is None or not 1 <= retention <= MAX_RETENTION_DAYS:
        raise _refuse(_("Keep data from 1 to %(max)s days.", max=MAX_RETENTION_DAYS),
                      "retention_days")
    texts = {}
    for name, limit in _TEXT_LIMITS.items():
        text = str(values.get(name) or "").strip()
        if len(text) > limit:
            raise _refuse(_("At most %(max)s characters.", max=limit), name)
        texts[name] = text
    if texts["recall_url"] and not texts["recall_url"].startswith(("https://", "http://")):
        raise _refuse(_("A web address starting with https://"), "recall_url")
    return {"time_zone": zone, "workdays": _workdays(values.get("workdays")),
            "opens": opens, "closes": closes, "languages": _languages(values.get("languages")),
            "currency": currency, "distance_unit": unit, "retention_days": retention, **texts}


def read_markets_file(path: Path = MARKETS_FILE) -> dict[str, dict[str, Any]]:
    """The reference file's markets by country, every row checked first: any bad row is
    an `ImportFailed` naming the file, row and column, and nothing is loaded."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    out: dict[str, dict[str, Any]] = {}
    errors: list[RowError] = []
    for number, row in enumerate(rows, start=2):
        try:
            country = fields.country(row.get("country") or "")
        except ValueError as exc:
            errors.append(RowError(number, f"{path.name}: country", str(exc)))
            continue
        try:
            out[country] = check_market(row)
        except Invalid as exc:
            errors.append(RowError(number, f"{path.name}: {exc.field}",
                                   str(exc.message or exc.default_message)))
    if errors:
        raise ImportFailed(errors)
    return out


def load_markets(session: Session, actor: Actor, *, path: Path = MARKETS_FILE,
                 audit: bool = True) -> dict[str, int]:
    """Create or refresh the reference markets; a market an operator edited is left as
    they left it. Returns the counts `created`, `updated`, `unchanged` and `kept` (edited
    by an operator). With `audit`, one entry (`market.load`, the counts and the countries
    written) when anything changed; the reference catalog's loader passes `audit=False`
    and writes its own one entry. Flushes, never commits."""
    wanted = read_markets_file(path)
    existing = {m.country: m for m in session.exec(
        select(Market).where(Market.country.in_(list(wanted))))}
    counts = {"created": 0, "updated": 0, "unchanged": 0, "kept": 0}
    written: list[str] = []
    for country, values in wanted.items():
        market = existing.get(country)
        if market is None:
            session.add(Market(country=country, **values))
            counts["created"] += 1
            written.append(country)
            continue
        if market.edited_at is not None:
            counts["kept"] += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(market, k) != v}
        if not changed:
            counts["unchanged"] += 1
            continue
        session.execute(update(Market).where(Market.country == country)
                        .values(**changed, version=Market.version + 1))
        counts["updated"] += 1
        written.append(country)
    session.flush()
    if audit and written:
        record(session, actor=actor, action="market.load", entity_type="import",
               entity_id="markets", after={**counts, "countries": written})
    session.expire_all()
    return counts


def update_market(session: Session, market: Market, *, version: Any, values: dict[str, Any],
                  actor: Actor) -> dict[str, Any]:
    """An operator's edit of `market` seen at `version` (stale: 409, nothing written):
    checked as `check_market`, stamped as theirs and audited. Returns the changed values."""
    if not isinstance(version, int):
        raise Conflict(field="version")
    checked = check_market(values)
    before = {k: getattr(market, k) for k in checked}
    changed = {k: v for k, v in checked.items() if before[k] != v}
    result = session.execute(update(Market).where(Market.country == market.country,
                                                  Market.version == version)
                             .values(**changed, version=Market.version + 1,
                                     edited_by=actor.label, edited_at=utcnow()))
    if result.rowcount != 1:
        raise Conflict(field="version")
    record(session, actor=actor, action="market.update", entity_type="market",
           entity_id=market.country, before=_plain({k: before[k] for k in changed}),
           after=_plain(changed))
    session.expire_all()
    return changed


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Values as JSON can hold them (times as HH:MM)."""
    return {k: v.strftime("%H:%M") if isinstance(v, time) else v for k, v in values.items()}
