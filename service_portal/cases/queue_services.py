"""Writes of the staff queue: saved filters per user and bulk changes of several cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import delete
from sqlmodel import Session, select

from ..audit.actors import Actor
from ..errors import Invalid, PortalError
from ..jsonbody import error_message
from .models import Case, SavedFilter
from .queue_params import QUEUE_PARAMS
from .schemas import CasePatch
from .services import change_case

MAX_FILTERS = 50
#: Parameters a saved filter keeps: where the queue is paged to, and the language, are not
#: part of what was filtered.
_KEPT = tuple(name for name in QUEUE_PARAMS if name not in ("offset", "lang"))


def filter_query(args: Mapping[str, str]) -> str:
    """The query string a saved filter stores: the queue's own non-empty parameters, in a
    fixed order, so the same filter saved twice reads the same."""
    return urlencode([(name, args[name]) for name in _KEPT if args.get(name)])


def saved_filters(session: Session, user_id: int) -> list[SavedFilter]:
    """The user's saved filters by name."""
    return list(session.exec(select(SavedFilter).where(SavedFilter.user_id == user_id)
                             .order_by(SavedFilter.name)).all())


def save_filter(session: Session, *, user_id: int, name: str, query: str) -> SavedFilter:
    """Save `query` under `name` for the user; the same name again replaces its query.
    Names are 1-100 characters, queries at most 1000, a user keeps at most 50 filters."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise Invalid(_("A name of 1 to 100 characters, please."), code="invalid_name",
                      field="name")
    query = filter_query(dict(parse_qsl(query)))
    if len(query) > 1000:
        raise Invalid(_("This filter is too long to save."), field="query")
    row = session.exec(select(SavedFilter).where(SavedFilter.user_id == user_id,
                                                 SavedFilter.name == name)).first()
    if row is None:
        if len(saved_filters(session, user_id)) >= MAX_FILTERS:
            raise Invalid(_("You have %(num)s saved filters: delete one first.",
                            num=MAX_FILTERS), code="too_many_filters", field="name")
        row = SavedFilter(user_id=user_id, name=name, query=query)
    else:
        row.query = query
    session.add(row)
    session.flush()
    return row


def delete_filter(session: Session, *, user_id: int, filter_id: int) -> bool:
    """Delete one of the user's own saved filters; False when they have no such filter."""
    result = session.execute(delete(SavedFilter).where(SavedFilter.id == filter_id,
                                                       SavedFilter.user_id == user_id))
    return result.rowcount == 1


@dataclass
class BulkOutcome:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (reference, why)


def bulk_change(session: Session, references: list[str], changes: dict[str, Any], *,
                actor: Actor, hours: Mapping[str, int]) -> BulkOutcome:
    """Apply the same `changes` (`status` and/or `assignee`, None for nobody) to each case,
    one by one through `change_case`, so every case gets its own version bump and event.

    Each case is changed in a savepoint of the request's one transaction: a case whose
    move the workflow does not allow (or that is unknown) is refused alone and reported
    by reference; the others are changed and committed together with the request. The
    change applies to each case as it is now (its current version), not as the page
    showed it."""
    outcome = BulkOutcome()
    for reference in dict.fromkeys(r.strip().upper()[:20] for r in references):
        case = session.exec(select(Case).where(Case.reference == reference)).first()
        if case is None:
            outcome.refused.append((reference, _("There is no case %(reference)s.",
                                                 reference=reference)))
            continue
        savepoint = session.begin_nested()
        try:
            after = change_case(session, case,
                                CasePatch.model_validate({"version": case.version, **changes}),
                                actor=actor, hours=hours)
        except PortalError as exc:
            savepoint.rollback()
            outcome.refused.append((reference, str(exc.message or exc.default_message)))
            continue
        except ValidationError as exc:
            savepoint.rollback()
            outcome.refused.append((reference, error_message(exc.errors()[0])))
            continue
        savepoint.commit()
        (outcome.changed if after else outcome.unchanged).append(reference)
    return outcome
