"""A case's history as people read it: each change a sentence ("Status: Waiting for parts ->
In repair"), with names instead of codes and times in the reader's zone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlmodel import Session

from .. import names, vocabulary
from .models import CaseEvent

#: The fields an event's before/after may hold, in the order they are told, with a label.
FIELDS = {
    "status": _l("Status"),
    "priority": _l("Priority"),
    "sla_due": _l("Due"),
    "shop_id": _l("Shop"),
    "assignee": _l("Assignee"),
    "service": _l("Service"),
    "bulletin_codes": _l("Linked bulletins"),
    "cases": _l("Cases"),
}
NOTHING = "—"


def _shop_name(shop_id: Any) -> str:
    """A shop's name by id, read once per request for all the ids a page shows."""
    from ..db import get_session
    from ..shops.models import Shop

    cache = g.setdefault("_shop_names", {}) if has_request_context() else {}
    if shop_id not in cache:
        cache[shop_id] = get_session().scalar(select(Shop.name).where(Shop.id == shop_id))
    return cache[shop_id] or str(shop_id)


def _as_list(value: Any) -> str:
    return ", ".join(str(v) for v in value) if value else NOTHING


_SHOWN: dict[str, Callable[[Any], str]] = {
    "status": lambda v: vocabulary.label(vocabulary.CASE_STATUSES, v),
    "priority": lambda v: vocabulary.label(vocabulary.CASE_PRIORITIES, v),
    "sla_due": names.local_time,
    "shop_id": _shop_name,
    "service": names.service_name,
    "bulletin_codes": _as_list,
    "cases": _as_list,
}


def shown_value(field: str, value: Any) -> str:
    """One value of a field as the reader reads it; nothing at all reads as a dash."""
    if value is None or value == "" or value == []:
        return NOTHING
    return _SHOWN.get(field, str)(value)


def change_lines(event: dict[str, Any]) -> list[dict[str, str]]:
    """The fields an event set or changed, each as {label, before, after}: `before` is
    empty for a value set for the first time (a case opened, a bulk change)."""
    before, after = event.get("before") or {}, event.get("after") or {}
    # A field set to nothing for the first time (no shop when the case opened) says nothing.
    told = {name for name in after if name in before or after[name] not in (None, "", [])}
    ordered = [name for name in FIELDS if name in told]
    ordered += sorted(name for name in told if name not in FIELDS)
    return [{"label": str(FIELDS.get(name, name.replace("_", " ").capitalize())),
             "before": shown_value(name, before[name]) if name in before else "",
             "after": shown_value(name, after[name])}
            for name in ordered]


def status_changes(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The case's status moves, oldest first: what an owner may see of its history
    (no actor, no internal field)."""
    rows = session.execute(select(CaseEvent.at, CaseEvent.before, CaseEvent.after)
                           .where(CaseEvent.case_id == case_id,
                                  CaseEvent.kind.in_(("opened", "changed")))
                           .order_by(CaseEvent.at, CaseEvent.id)).all()
    return [{"at": at, "before": (before or {}).get("status"), "after": after["status"]}
            for at, before, after in rows if after and after.get("status")]
