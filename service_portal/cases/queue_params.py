"""The staff queue's filters (CONTRACT section 6), parsed once for the API and the page."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from .. import fields
from ..errors import BadParameter
from ..params import refuse_unknown, single
from .models import CASE_STATUSES

MAX_LIMIT = 200
QUEUE_PARAMS = ("status", "country", "brand", "model", "shop_id", "q", "breached", "sort",
                "limit", "offset", "lang")
#: The columns the queue sorts by (`sort=due`, `sort=-due` for descending); anything else
#: is a 400. Without `sort`, the most urgent come first.
SORT_KEYS = ("reference", "priority", "status", "due", "created", "brand", "country")


@dataclass(frozen=True)
class QueueFilters:
    status: str | None = None
    country: str | None = None
    brand: str | None = None
    model: str | None = None
    shop_id: int | None = None
    q: str | None = None
    breached: bool | None = None
    sort: str | None = None
    limit: int = 50
    offset: int = 0


def parse_queue_args(args: MultiDict, *, allow_empty: bool = False) -> QueueFilters:
    """Checked filters; anything unknown, repeated or malformed is a 400 naming it. Forms
    send empty fields, so pages pass `allow_empty`."""
    refuse_unknown(args, QUEUE_PARAMS)
    text = {name: single(args, name, allow_empty=allow_empty) for name in QUEUE_PARAMS}
    status = text["status"]
    if status is not None and status not in CASE_STATUSES:
        _bad("status", _("Must be one of %(options)s: %(value)s",
                         options=", ".join(CASE_STATUSES), value=status))
    country = None
    if text["country"]:
        try:
            country = fields.country(text["country"])
        except ValueError as exc:
            _bad("country", str(exc))
    brand = _slug(text["brand"], "brand", 40)
    model = _slug(text["model"], "model", 80)
    sort = text["sort"]
    if sort is not None and sort.removeprefix("-") not in SORT_KEYS:
        _bad("sort", _("Must be one of %(options)s: %(value)s",
                       options=", ".join(SORT_KEYS), value=sort))
    breached = None
    if text["breached"] is not None:
        if text["breached"] not in ("true", "false"):
            _bad("breached", _("Must be one of %(options)s: %(value)s", options="true, false",
                               value=text["breached"]))
        breached = text["breached"] == "true"
    q = text["q"]
    if q is not None and len(q) > 100:
        _bad("q", _("At most %(num)s characters.", num=100))
    return QueueFilters(status=status, country=country, brand=brand, model=model,
                        sort=sort, shop_id=_whole(text["shop_id"], "shop_id", 1, 2**31 - 1),
                        q=q, breached=breached,
                        limit=_whole(text["limit"], "limit", 1, MAX_LIMIT) or 50,
                        offset=_whole(text["offset"], "offset", 0, 10**6) or 0)


def _slug(value: str | None, name: str, longest: int) -> str | None:
    """A catalog slug; letters in either case are taken (`BYD` is `byd`)."""
    if value is None:
        return None
    slug = value.lower()
    if len(slug) > longest or not slug.replace("-", "").isalnum() or not slug.isascii():
        _bad(name, _("Not a slug (lower-case letters, digits and hyphens): %(value)s",
                     value=value))
    return slug


def _whole(value: str | None, name: str, minimum: int, maximum: int) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or not minimum <= int(value) <= maximum:
        _bad(name, _("Must be a whole number from %(min)s to %(max)s: %(value)s",
                     min=minimum, max=maximum, value=value))
    return int(value)


def _bad(name: str, message: str):
    raise BadParameter(message, field=name)
