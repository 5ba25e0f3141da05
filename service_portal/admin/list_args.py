"""The query string of an admin list page: search text, filters, sort and offset, each
checked (anything unknown or malformed is a 400 naming it)."""

from __future__ import annotations

from collections.abc import Collection

from werkzeug.datastructures import MultiDict

from .. import fields
from ..errors import BadParameter
from ..params import check_text, refuse_unknown, single

#: `state` filter values and the `active` flag each selects.
STATES = {"active": True, "inactive": False}


def list_args(args: MultiDict, *, filters: Collection[str], sorts: Collection[str],
              default_sort: str) -> tuple[str, str, int]:
    """(search text `q`, `sort` with `-` first for descending, `offset`); the other
    parameters allowed are `filters`, read with `choice` or `number`."""
    refuse_unknown(args, ("q", "sort", "offset", *filters))
    text = check_text("q", single(args, "q", allow_empty=True) or "")
    sort = single(args, "sort", allow_empty=True) or default_sort
    if sort.removeprefix("-") not in sorts:
        raise BadParameter(field="sort")
    return text, sort, number(args, "offset") or 0


def choice(args: MultiDict, name: str, allowed: Collection[str]) -> str | None:
    """The value of `name` if it is one of `allowed`; None when absent or empty."""
    value = single(args, name, allow_empty=True) or None
    if value is not None and value not in allowed:
        raise BadParameter(field=name)
    return value


def number(args: MultiDict, name: str) -> int | None:
    """A whole number in ASCII digits (an id or an offset); None when absent or empty."""
    raw = single(args, name, allow_empty=True) or None
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 10**9:
        raise BadParameter(field=name)
    return int(raw)


def state_flag(args: MultiDict) -> tuple[str | None, bool | None]:
    """The `state` filter (`active` or `inactive`) and the flag it selects."""
    state = choice(args, "state", STATES)
    return state, STATES.get(state or "")


def country_code(args: MultiDict) -> str | None:
    """The `country` filter: an ISO 3166-1 alpha-2 code (any case)."""
    value = single(args, "country", allow_empty=True) or None
    if value is None:
        return None
    try:
        return fields.country(value)
    except ValueError as exc:
        raise BadParameter(str(exc), field="country") from None
