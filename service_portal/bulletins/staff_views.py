"""Staff pages that publish bulletins: the list, and the editor with every language side by
side and a preview. Writes go through the staff API's schema and service, audited alike."""

from __future__ import annotations

from datetime import date

from babel import Locale
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import Session, select
from wtforms import SelectChoice

from .. import vocabulary
from ..catalog.queries import catalog_choices
from ..db import get_session
from ..errors import PortalError
from ..i18n import language_choices
from ..security import current_actor, role_required
from .forms import BulletinForm
from .models import BULLETIN_KINDS, Bulletin
from .queries import bulletin_source, render_markdown, staff_bulletins
from .services import upsert_bulletin

bp = Blueprint("staff_bulletins", __name__, url_prefix="/staff")
staff_required = role_required("staff", "admin")


@bp.get("/bulletins")
@staff_required
def index():
    session = get_session()
    brands = [(brand.slug, brand.name) for brand, _models in catalog_choices(session)]
    brand = request.args.get("brand") if request.args.get("brand") in dict(brands) else None
    kind = request.args.get("kind") if request.args.get("kind") in BULLETIN_KINDS else None
    return render_template("staff/bulletins_list.html",
                           rows=staff_bulletins(session, brand=brand, kind=kind),
                           brands=brands, kinds=vocabulary.BULLETIN_KINDS, brand=brand, kind=kind)


@bp.route("/bulletins/new", methods=["GET", "POST"])
@staff_required
def new():
    session = get_session()
    form = _form(session)
    if request.method == "GET":
        form.process(data={"published": date.today(), "kind": "recall", "severity": "medium"})
    return _edit(session, form, code=None, before=None)


@bp.route("/bulletins/<code>/edit", methods=["GET", "POST"])
@staff_required
def edit(code: str):
    session = get_session()
    before = bulletin_source(session, code.strip().upper()[:40])
    if before is None:
        abort(404)
    form = _form(session)
    if request.method == "GET":
        data = dict(before, countries=", ".join(before["countries"]),
                    published=date.fromisoformat(before["published"]))
        form.process(data=data)
    return _edit(session, form, code=before["code"], before=before)


def _form(session: Session) -> BulletinForm:
    form = BulletinForm()
    choices = catalog_choices(session)
    form.brand.choices = [SelectChoice(brand.slug, brand.name) for brand, _models in choices]
    form.models.choices = [SelectChoice(m.slug, m.name, optgroup=brand.name)
                           for brand, models in choices for m in models]
    return form


def _edit(session: Session, form: BulletinForm, *, code: str | None, before: dict | None):
    """Preview, or check and save, then show the editor again (or go to the saved one)."""
    status, preview = 200, None
    if request.method == "POST":
        if request.form.get("action") == "preview":
            preview = _preview(form)
        elif form.validate_on_submit():
            saved, status = _save(session, form, code=code, before=before)
            if saved:
                flash(_("The bulletin %(code)s is saved.", code=saved), "info")
                return redirect(url_for(".edit", code=saved), 303)
        else:
            status = 422
    languages = [(code_, name, Locale.parse(code_).text_direction)
                 for code_, name in language_choices()]
    return render_template("staff/bulletins_edit.html", form=form, code=code,
                           languages=languages, preview=preview), status


def _preview(form: BulletinForm) -> list[tuple[str, dict]]:
    """Each filled language's texts with the body as readers will see it: nothing stored."""
    return [(locale, {"title": texts.title.data, "summary": texts.summary.data,
                      "body_html": render_markdown(texts.body.data or "")})
            for locale, texts in form.locale_forms() if texts.filled()]


def _save(session: Session, form: BulletinForm, *, code: str | None,
          before: dict | None) -> tuple[str | None, int]:
    """Store the bulletin (the service audits it): (its code, 200), or (None, the status)
    with the errors on the form when refused."""
    data = form.to_bulletin(code or form.code.data or "")
    if data is None:
        return None, 422
    if before is None and _exists(session, data.code):
        form.add_error(form.code, _("A bulletin %(code)s exists already; edit it instead.",
                                    code=data.code))
        return None, 409
    try:
        upsert_bulletin(session, data, actor=current_actor())
    except PortalError as exc:
        field = getattr(form, exc.field or "", None) or form.code
        form.add_error(field, str(exc.message or exc))
        return None, exc.status
    return data.code, 200


def _exists(session: Session, code: str) -> bool:
    return session.exec(select(Bulletin.id).where(Bulletin.code == code)).first() is not None
