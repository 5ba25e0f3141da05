"""Dealer pages: their shops, the stock table with inline edit, upload (preview, then
commit), export, low stock and a part's stock history. Own organisation's shops only."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select

from ..audit.models import AuditEntry
from ..audit.services import record_export
from ..db import begin_writing, get_session, reads_first, utcnow
from ..errors import PortalError
from ..security import current_actor, role_required
from ..shops.models import Shop
from ..shops.queries import organization_shop
from ..tabular import ImportFailed, download, read_table, to_csv, to_xlsx
from .forms import CommitForm, StockLineForm, UploadForm
from .models import StockUpload
from .queries import shop_stock
from .schemas import part_number
from .services import import_stock, keep_upload, set_stock
from .stock_audit import stock_entity_id

bp = Blueprint("dealer", __name__, url_prefix="/dealer")
UPLOAD_TTL = timedelta(hours=1)
EXPORT_COLUMNS = ["part_number", "name", "qty", "price", "currency", "min_qty", "updated_at"]


dealer_required = role_required("dealer")


def own_shop(shop_id: int) -> Shop:
    """The shop if it is the signed-in dealer's organisation's; otherwise 404."""
    shop = organization_shop(get_session(), shop_id, current_user.user.organization_id)
    if shop is None:
        abort(404)
    return shop


@bp.get("/")
@dealer_required
def shops():
    rows = get_session().scalars(select(Shop).where(
        Shop.organization_id == current_user.user.organization_id).order_by(Shop.name)).all()
    return render_template("dealer/shops.html", shops=rows)


@bp.get("/shops/<id:shop_id>/stock")
@dealer_required
def stock(shop_id: int):
    shop = own_shop(shop_id)
    query = (request.args.get("q") or "")[:80]
    low = request.args.get("low") == "true"
    rows = shop_stock(get_session(), shop.id, search=query, low_only=low)
    return render_template("dealer/stock.html", shop=shop, rows=rows, q=query, low=low,
                           line_form=StockLineForm(), upload_form=UploadForm())


@bp.post("/shops/<id:shop_id>/stock/<path:number>")
@dealer_required
def edit_line(shop_id: int, number: str):
    shop = own_shop(shop_id)
    form = StockLineForm()
    if not form.validate_on_submit() or not (form.version.data or "").isdigit():
        flash(_("Quantity and minimum must be whole numbers of at least 0."), "error")
        return redirect(url_for(".stock", shop_id=shop.id)), 303
    try:
        pn = part_number(number)
        set_stock(get_session(), shop_id=shop.id, part_number=pn, qty=form.qty.data,
                  version=int(form.version.data), min_qty=form.min_qty.data,
                  actor=current_actor())
    except ValueError:
        abort(404)
    except PortalError as exc:
        get_session().rollback()
        flash(str(exc.message or exc.default_message), "error")
        return redirect(url_for(".stock", shop_id=shop.id)), 303
    flash(_("Saved %(part)s.", part=pn), "info")
    return redirect(url_for(".stock", shop_id=shop.id)), 303


@bp.post("/shops/<id:shop_id>/stock/upload")
@reads_first
@dealer_required
def upload(shop_id: int):
    """Check the file and show what it would change, or every bad row; nothing is stored
    until the dealer commits the preview (the file is kept for that: `keep_upload`)."""
    shop = own_shop(shop_id)
    form = UploadForm()
    if not form.validate_on_submit():
        flash(_("Choose a CSV or XLSX file."), "error")
        return redirect(url_for(".stock", shop_id=shop.id)), 303
    data = form.file.data.read()
    filename = (form.file.data.filename or "upload")[:200]
    session = get_session()
    try:
        counts = _import(session, shop, data, filename, dry_run=True)
    except ImportFailed as exc:
        return render_template("dealer/preview.html", shop=shop, errors=exc.errors,
                               message=exc.message, counts=None), 422
    except PortalError as exc:
        return render_template("dealer/preview.html", shop=shop, errors=[],
                               message=str(exc.message or exc.default_message),
                               counts=None), exc.status
    begin_writing(session)
    token = keep_upload(session, user_id=current_user.user.id, shop_id=shop.id,
                        filename=filename, data=data, ttl=UPLOAD_TTL,
                        max_upload_bytes=current_app.config["MAX_CONTENT_LENGTH"])
    return render_template("dealer/preview.html", shop=shop, errors=[], counts=counts,
                           token=token, filename=filename, commit_form=CommitForm())


@bp.post("/shops/<id:shop_id>/stock/upload/<token>")
@reads_first
@dealer_required
def commit_upload(shop_id: int, token: str):
    shop = own_shop(shop_id)
    if not CommitForm().validate_on_submit():
        abort(400)
    session = get_session()
    pending = session.scalars(select(StockUpload).where(
        StockUpload.token == token[:64], StockUpload.shop_id == shop.id,
        StockUpload.user_id == current_user.user.id)).first()
    if pending is None or utcnow() - pending.created_at > UPLOAD_TTL:
        flash(_("This preview has expired; upload the file again."), "error")
        return redirect(url_for(".stock", shop_id=shop.id)), 303
    try:
        counts = _import(session, shop, pending.data, pending.filename, dry_run=False)
    except PortalError as exc:  # the stock changed meanwhile in a way that breaks the file
        session.rollback()
        flash(str(exc.message or exc.default_message), "error")
        return redirect(url_for(".stock", shop_id=shop.id)), 303
    # Under the write lock the import took: of two clicks on one preview, one imports.
    if not session.execute(delete(StockUpload).where(StockUpload.id == pending.id)).rowcount:
        session.rollback()
        flash(_("This preview has expired; upload the file again."), "error")
        return redirect(url_for(".stock", shop_id=shop.id)), 303
    flash(_("Imported: %(created)s new, %(updated)s changed lines.", created=counts["created"],
            updated=counts["updated"]), "info")
    return redirect(url_for(".stock", shop_id=shop.id)), 303


def _import(session, shop: Shop, data: bytes, filename: str, *, dry_run: bool) -> dict:
    table = read_table(data, filename, seconds=current_app.config["IMPORT_PARSE_SECONDS"])
    per_shop = "shop_external_id" in table.columns
    return import_stock(session, table, actor=current_actor(), source=filename,
                        shop_external_id=None if per_shop else shop.external_id,
                        dry_run=dry_run, organization_id=shop.organization_id)


@bp.get("/shops/<id:shop_id>/stock.<any(csv, xlsx):kind>")
@dealer_required
def export(shop_id: int, kind: str):
    session = get_session(write=True)  # the export itself is audited
    shop = own_shop(shop_id)
    rows = [[r[c] for c in EXPORT_COLUMNS] for r in shop_stock(session, shop.id)]
    record_export(session, actor=current_actor(), what="stock", entity_type="shop",
                  entity_id=shop.id, rows=len(rows), details={"format": kind})
    name = f"stock-{shop.external_id}.{kind}"
    if kind == "csv":
        body, mimetype = to_csv(EXPORT_COLUMNS, rows), "text/csv"
    else:
        body = to_xlsx(EXPORT_COLUMNS, rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return download(body, name, mimetype)


@bp.get("/shops/<id:shop_id>/stock/<path:number>/history")
@dealer_required
def history(shop_id: int, number: str):
    shop = own_shop(shop_id)
    try:
        pn = part_number(number)
    except ValueError:
        abort(404)
    entries = get_session().scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "stock", AuditEntry.entity_id == stock_entity_id(shop.id, pn))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(200)).all()
    return render_template("dealer/history.html", shop=shop, part_number=pn, entries=entries)
