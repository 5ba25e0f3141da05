"""The parts catalog import through the web: upload, a preview of what the file would
change (or every bad row), then a confirmation that imports it all or nothing, audited
once. The same service as `service-portal import-parts`; the same limits as the dealer's
stock upload (MAX_UPLOAD_MB, the rows and cells `tabular.read_table` allows).

Between preview and confirmation the file waits in the database like a dealer's stock
preview (a `StockUpload` row without a shop: one hour at most, a few per admin), so any
app host can confirm what another previewed; of two clicks on one preview, one imports."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, func, select

from ..db import begin_writing, get_session, reads_first, utcnow
from ..errors import PortalError
from ..parts.forms import CommitForm
from ..parts.models import Part, StockUpload
from ..parts.schemas import PART_COLUMNS
from ..parts.services import import_parts, keep_upload
from ..security import current_actor
from ..tabular import ImportFailed, read_table
from .blueprint import admin_only, bp
from .forms import PartsUploadForm

UPLOAD_TTL = timedelta(hours=1)


@bp.get("/parts")
@admin_only
def parts_catalog():
    total = get_session().scalar(select(func.count()).select_from(Part)) or 0
    return render_template("admin/parts.html", form=PartsUploadForm(), total=total,
                           columns=PART_COLUMNS)


@bp.post("/parts/preview")
@reads_first
@admin_only
def parts_preview():
    """Check the file and count what it would change; nothing is stored but the file."""
    form = PartsUploadForm()
    if not form.validate_on_submit():
        flash(_("Choose a CSV or XLSX file."), "error")
        return redirect(url_for(".parts_catalog"), 303)
    data = form.file.data.read()
    filename = (form.file.data.filename or "upload")[:200]
    try:
        counts = _import(data, filename, dry_run=True)
    except ImportFailed as exc:
        return _preview(filename=filename, errors=exc.errors, message=exc.message), 422
    except PortalError as exc:
        return _preview(filename=filename, message=str(exc.message or exc.default_message)), \
            exc.status
    session = get_session()
    begin_writing(session)
    token = keep_upload(session, user_id=current_user.user.id, shop_id=None,
                        filename=filename, data=data, ttl=UPLOAD_TTL,
                        max_upload_bytes=current_app.config["MAX_CONTENT_LENGTH"])
    return _preview(filename=filename, counts=counts, token=token, commit_form=CommitForm())


@bp.post("/parts/<token>")
@reads_first
@admin_only
def parts_confirm(token: str):
    """Import the previewed file, all or nothing; a preview imports once at most."""
    if not CommitForm().validate_on_submit():
        abort(400)
    session = get_session()
    pending = session.scalars(select(StockUpload).where(
        StockUpload.token == token[:64], StockUpload.shop_id.is_(None),
        StockUpload.user_id == current_user.user.id)).first()
    if pending is None or utcnow() - pending.created_at > UPLOAD_TTL:
        return _gone()
    try:
        counts = _import(pending.data, pending.filename, dry_run=False)
    except PortalError as exc:  # the catalog changed meanwhile in a way that breaks the file
        session.rollback()
        flash(str(exc.message or exc.default_message), "error")
        return redirect(url_for(".parts_catalog"), 303)
    # Under the write lock the import took: of two clicks on one preview, one imports.
    if not session.execute(delete(StockUpload).where(StockUpload.id == pending.id)).rowcount:
        session.rollback()
        return _gone()
    flash(_("Imported: %(created)s new, %(updated)s changed parts.", created=counts["created"],
            updated=counts["updated"]), "success")
    return redirect(url_for(".parts_catalog"), 303)


def _gone():
    flash(_("This preview has expired or was imported already; upload the file again."),
          "error")
    return redirect(url_for(".parts_catalog"), 303)


def _import(data: bytes, filename: str, *, dry_run: bool) -> dict:
    table = read_table(data, filename, seconds=current_app.config["IMPORT_PARSE_SECONDS"])
    return import_parts(get_session(), table, actor=current_actor(), source=filename,
                        dry_run=dry_run)


def _preview(*, filename: str, counts: dict | None = None, errors=(), message: str = "",
             token: str | None = None, commit_form=None) -> str:
    return render_template("admin/parts_preview.html", filename=filename, counts=counts,
                           errors=errors, message=message, token=token,
                           commit_form=commit_form)
