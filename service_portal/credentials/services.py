"""Evidence for a shop's claims: dealers submit it, staff verify or reject it, and dealers
hear 30 days before a verified document expires. Every write is audited here; the file goes
to the evidence store (`storage.py`) and only its key is kept in the row."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import filetype
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlmodel import Session

from ..audit.actors import Actor
from ..audit.services import record
from ..db import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..notifications.outbox import enqueue
from ..shops.models import Shop, ShopBrand
from ..users.models import User
from .models import BRAND_DOCUMENTS, CERTIFICATE_LEVELS, Credential
from .storage import evidence_store

#: The file types evidence may be, by what the content is (not what the name says).
ACCEPTED_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}
#: Dealers hear this long before a verified document's expiry.
REMINDER_AHEAD = timedelta(days=30)


@dataclass(frozen=True)
class Evidence:
    """What a dealer states about the uploaded document."""

    kind: str
    brand_id: int | None = None
    document: str | None = None
    technician: str | None = None
    hv_level: str | None = None
    issuer: str = ""
    valid_until: date | None = None


def content_type_of(data: bytes) -> str:
    """The file's type read from its first bytes; a 422 unless PDF, PNG or JPEG."""
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in ACCEPTED_TYPES:
        raise Invalid(_("The file must be a PDF, PNG or JPEG document."), field="file")
    return kind.mime


def _check(session: Session, shop: Shop, evidence: Evidence, today: date) -> None:
    if evidence.kind == "brand":
        declared = session.scalar(select(ShopBrand.level).where(
            ShopBrand.shop_id == shop.id, ShopBrand.brand_id == evidence.brand_id))
        if declared is None:
            raise Invalid(_("Choose one of the brands this shop declares."), field="brand")
        if evidence.document not in BRAND_DOCUMENTS:
            raise Invalid(_("Choose what the document is."), field="document")
    elif evidence.kind == "hv":
        if not (evidence.technician or "").strip():
            raise Invalid(_("Name the technician the certificate is for."), field="technician")
        if evidence.hv_level not in CERTIFICATE_LEVELS:
            raise Invalid(_("Choose the level the certificate states."), field="hv_level")
        if evidence.valid_until is None:
            raise Invalid(_("Give the date the certificate is valid until."),
                          field="valid_until")
    else:
        raise Invalid(field="kind")
    if evidence.valid_until is not None and evidence.valid_until < today:
        raise Invalid(_("This document has already expired."), field="valid_until")


def submit(session: Session, shop: Shop, evidence: Evidence, *, file_name: str, data: bytes,
           actor: Actor, today: date | None = None) -> Credential:
    """Store an uploaded document as pending evidence for `shop` (422 on a file that is not
    PDF, PNG or JPEG by content, or on a statement that does not fit the shop)."""
    _check(session, shop, evidence, today or date.today())
    content_type = content_type_of(data)
    key = f"shops/{shop.id}/{uuid.uuid4().hex}.{ACCEPTED_TYPES[content_type]}"
    row = Credential(shop_id=shop.id, kind=evidence.kind, brand_id=evidence.brand_id,
                     document=evidence.document if evidence.kind == "brand" else None,
                     technician=(evidence.technician or "").strip() or None,
                     hv_level=evidence.hv_level if evidence.kind == "hv" else None,
                     issuer=evidence.issuer.strip(), valid_until=evidence.valid_until,
                     file_key=key, file_name=_safe_name(file_name), content_type=content_type,
                     size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                     uploaded_by=actor.label)
    session.add(row)
    session.flush()
    record(session, actor=actor, action="credential.upload", entity_type="credential",
           entity_id=row.id, after=_summary(row))
    # The file goes in last: a refused row leaves no file behind; a file whose row then
    # fails to commit is an orphan the store may hold, never evidence shown to anyone.
    evidence_store(current_app).put(key, data, content_type)
    return row


def review(session: Session, credential_id: int, *, version: int, verified: bool,
           reason: str | None, actor: Actor, notify: bool = True) -> Credential:
    """Staff's decision on pending or earlier-reviewed evidence: verified, or rejected
    with a reason (422 without one); a stale `version` is a 409. The shop's dealers hear
    of it by email (`notify`: the demo data set's replayed reviews send nothing)."""
    row = session.get(Credential, credential_id)
    if row is None:
        raise NotFound()
    reason = (reason or "").strip() or None
    if not verified and not reason:
        raise Invalid(_("Say why the document is rejected: the dealer reads it."),
                      field="reason")
    before = _summary(row)
    state = "verified" if verified else "rejected"
    result = session.execute(
        update(Credential).where(Credential.id == row.id, Credential.version == version)
        .values(state=state, reason=None if verified else reason, reviewed_by=actor.label,
                reviewed_at=utcnow(), version=Credential.version + 1))
    if result.rowcount != 1:
        raise Conflict(field="version")
    session.refresh(row)
    record(session, actor=actor, action=f"credential.{state}", entity_type="credential",
           entity_id=row.id, before=before, after=_summary(row))
    shop = session.get(Shop, row.shop_id)
    for user in _dealers(session, shop.organization_id) if notify else ():
        enqueue(session, kind="credential_reviewed", recipient=user.email,
                locale=user.locale or "en",
                payload={"credential": row.id, "shop": shop.name, "shop_id": shop.id,
                         "state": state, "reason": row.reason or ""})
    return row


def remind_expiring(session: Session, *, today: date | None = None) -> int:
    """Tell each shop's dealers, once per expiry date, that verified evidence expires
    within 30 days; returns how many documents were due a reminder."""
    today = today or date.today()
    due = session.scalars(select(Credential).where(
        Credential.state == "verified", Credential.valid_until.is_not(None),
        Credential.valid_until >= today, Credential.valid_until <= today + REMINDER_AHEAD,
        (Credential.reminded_for.is_(None)) | (Credential.reminded_for != Credential.valid_until),
    ).with_for_update(skip_locked=True)).all()
    for row in due:
        shop = session.get(Shop, row.shop_id)
        for user in _dealers(session, shop.organization_id):
            enqueue(session, kind="credential_expiring", recipient=user.email,
                    locale=user.locale or "en",
                    payload={"credential": row.id, "shop": shop.name, "shop_id": shop.id,
                             "kind": row.kind, "technician": row.technician or "",
                             "valid_until": row.valid_until.isoformat()})
        row.reminded_for = row.valid_until
    return len(due)


def _dealers(session: Session, organization_id: int) -> list[User]:
    return list(session.scalars(select(User).where(
        User.organization_id == organization_id, User.role == "dealer", User.active)
        .order_by(User.id)))


def _summary(row: Credential) -> dict:
    return {"shop_id": row.shop_id, "kind": row.kind, "brand_id": row.brand_id,
            "document": row.document, "technician": row.technician, "hv_level": row.hv_level,
            "issuer": row.issuer, "valid_until": row.valid_until.isoformat()
            if row.valid_until else None, "file_name": row.file_name,
            "sha256": row.sha256, "state": row.state, "reason": row.reason}


def _safe_name(name: str) -> str:
    """The uploaded file's name as shown back: its last path part, printable, bounded."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or "document")[:200]
