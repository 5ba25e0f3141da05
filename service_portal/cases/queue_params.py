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
QUEUE_PARAMS = ("status", "country", "brand", "shop_id", "q", "breached", "limit", "offset",
                "lang")


@dataclass(frozen=True)
class QueueFilters:
    status: str | None = None
    country: str | None = None
    brand: str | None = None
    shop_id: int | None = None
    q: str | None = None
    breached: bool | None = None
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
    brand = text["brand"]
    if brand is not None and (len(brand) > 40 or not brand.replace("-", "").isalnum()
                              or not brand.isascii() or brand != brand.lower()):
        _bad("brand", _("Not a slug (lower-case letters, digits and hyphens): %(value)s",
                        value=brand))
    breached = None
    if text["breached"] is not None:
        if text["breached"] not in ("true", "false"):
            _bad("breached", _("Must be one of %(options)s: %(value)s", options="true, false",
                               value=text["breached"]))
        breached = text["breached"] == "true"
    q = text["q"]
    if q is not None and len(q) > 100:
        _bad("q", _("At most %(num)s characters.", num=100))
    return QueueFilters(status=status, country=country, brand=brand,
                        shop_id=_whole(text["shop_id"], "shop_id", 1, 2**31 - 1),
                        q=q, breached=breached,
                        limit=_whole(text["limit"], "limit", 1, MAX_LIMIT) or 50,
                        offset=_whole(text["offset"], "offset", 0, 10**6) or 0)


def _whole(value: str | None, name: str, minimum: int, maximum: int) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or not minimum <= int(value) <= maximum:
        _bad(name, _("Must be a whole number from %(min)s to %(max)s: %(value)s",
                     min=minimum, max=maximum, value=value))
    return int(value)


def _bad(name: str, message: str):
    raise BadParameter(message, field=name)
