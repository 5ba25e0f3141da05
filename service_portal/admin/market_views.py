"""Admin pages for markets (one per country): the list, and a versioned, audited edit.
The rules and audit entries are the markets domain's services."""

from __future__ import annotations

from functools import lru_cache

import pycountry
from babel.numbers import get_currency_name
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from ..config import SUPPORTED_LOCALES
from ..db import get_session
from ..errors import Conflict, PortalError
from ..markets.display import day_names, hours_label
from ..markets.models import Market
from ..markets.queries import MARKET_SORTS, list_markets
from ..markets.services import update_market
from ..names import country_name, language_name, zone_choices
from ..security import current_actor
from .blueprint import PAGE_SIZE, admin_only, bp
from .list_args import choice, list_args
from .market_forms import MarketForm

_EDITED = {"edited": True, "reference": False}
#: Languages offered besides the portal's own (those the reference markets use).
_MORE_LANGUAGES = ("da", "fi", "sv", "ms", "pt", "tr", "ko", "ja", "pl", "cs", "he", "hi")


@bp.get("/markets")
@admin_only
def markets():
    """The markets: `q` (country code, authority or currency), `state` (`edited` by an
    operator or as in the `reference` file), `sort` (`country`, `retention`, `edited`)."""
    args = request.args
    text, sort, offset = list_args(args, filters=("state",), sorts=MARKET_SORTS,
                                   default_sort="country")
    state = choice(args, "state", _EDITED)
    total, rows = list_markets(get_session(), text=text, edited=_EDITED.get(state or ""),
                               sort=sort.removeprefix("-"), descending=sort.startswith("-"),
                               offset=offset, limit=PAGE_SIZE)
    kept = {k: v for k, v in (("q", text), ("state", state)) if v}
    return render_template("admin/markets.html", rows=rows, total=total, offset=offset,
                           page_size=PAGE_SIZE, sort=sort, kept=kept, text=text, state=state,
                           hours_label=hours_label, currency_name=_currency_name)


@bp.route("/markets/<cc>", methods=["GET", "POST"])
@admin_only
def market(cc: str):
    """Edit one market at the version the form was read at (stale: 409)."""
    session = get_session()
    row = _row(cc)
    form = MarketForm()
    _choices(form, row)
    if request.method == "GET":
        form.process(data={
            "time_zone": row.time_zone, "workdays": list(row.workdays),
            "opens": row.opens.strftime("%H:%M"), "closes": row.closes.strftime("%H:%M"),
            "languages": row.languages, "currency": row.currency,
            "distance_unit": row.distance_unit, "retention_days": str(row.retention_days),
            "recall_authority": row.recall_authority, "recall_url": row.recall_url,
            "rmi_note": row.rmi_note, "takeback_rules": row.takeback_rules,
            "version": row.version})
        return render_template("admin/market_form.html", form=form, row=row)
    status = 422
    if form.validate_on_submit():
        version = int(form.version.data) if (form.version.data or "").isdigit() else None
        values = {name: getattr(form, name).data for name in (
            "time_zone", "workdays", "opens", "closes", "languages", "currency",
            "distance_unit", "retention_days", "recall_authority", "recall_url", "rmi_note",
            "takeback_rules")}
        try:
            update_market(session, row, version=version, values=values, actor=current_actor())
        except PortalError as exc:
            session.rollback()
            status = exc.status
            message = str(exc.message or exc.default_message)
            target = getattr(form, exc.field, None) if exc.field else None
            if isinstance(exc, Conflict) or target is None:
                flash(message, "error")
            else:
                target.errors = [*target.errors, message]
            row = _row(cc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".markets"), 303)
    return render_template("admin/market_form.html", form=form, row=row), status


def _row(cc: str) -> Market:
    if not (len(cc) == 2 and cc.isascii() and cc.isalpha()):
        abort(404)
    row = get_session().get(Market, cc.upper())
    if row is None:
        abort(404)
    return row


def _currency_name(code: str) -> str:
    try:
        return get_currency_name(code, locale=str(get_locale() or "en"))
    except Exception:  # noqa: BLE001 - an unknown code reads as itself
        return code


@lru_cache(maxsize=1)
def _currency_codes() -> tuple[str, ...]:
    return tuple(sorted(c.alpha_3 for c in pycountry.currencies))


def _choices(form: MarketForm, row: Market) -> None:
    form.time_zone.choices = zone_choices()
    form.workdays.choices = [(str(day), name) for day, name in day_names().items()]
    codes = dict.fromkeys((*SUPPORTED_LOCALES, *_MORE_LANGUAGES, *row.languages))
    form.languages.choices = sorted(((code, language_name(code)) for code in codes),
                                    key=lambda pair: pair[1].casefold())
    form.currency.choices = sorted(((code, f"{_currency_name(code)} ({code})")
                                    for code in _currency_codes()),
                                   key=lambda pair: pair[1].casefold())
    form.distance_unit.choices = [("km", _("Kilometres")), ("mi", _("Miles"))]
    form.country_label = country_name(row.country)
