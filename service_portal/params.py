"""Query-string checks shared by every JSON route: no unknown, repeated or hostile values."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from .errors import BadParameter

#: Read by the locale selector on every route; never an error.
ALWAYS_ALLOWED = frozenset({"lang"})
MAX_TEXT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def refuse_unknown(args: MultiDict, allowed) -> None:
    """A parameter the route does not take is a 400 naming it (typos never pass silently)."""
    for name in args:
        if name not in allowed and name not in ALWAYS_ALLOWED:
            shown = _CONTROL.sub("", name)[:40]
            raise BadParameter(_("Unknown parameter: %(name)s", name=shown),
                               code="unknown_parameter", field=shown)


def check_text(name: str, value: str) -> str:
    """A short text without control characters, stripped."""
    if len(value) > MAX_TEXT or _CONTROL.search(value):
        raise BadParameter(_("The value of %(name)s is too long or has control characters.",
                             name=name), field=name)
    return value.strip()


def single(args: MultiDict, name: str, *, allow_empty: bool = False) -> str | None:
    """The one value of `name` (checked text), None when absent.

    An empty value is a 400 on the API; forms, which send empty fields, pass
    `allow_empty` and get None."""
    values = args.getlist(name)
    if len(values) > 1:
        raise BadParameter(_("The parameter %(name)s may be given only once.", name=name),
                           field=name)
    if not values:
        return None
    value = check_text(name, values[0])
    if not value and not allow_empty:
        raise BadParameter(_("The parameter %(name)s is empty.", name=name), field=name)
    return value or None
