"""Canned replies: prepared public answers per language that staff insert into a note.

A reply's body may hold `{name}` (the owner's name) and `{reference}` (the case's), filled
in when it is inserted; nothing else in it is interpreted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask_babel import gettext as _
from sqlmodel import Session, select

from ..config import SUPPORTED_LOCALES
from ..db import utcnow
from ..errors import Conflict, Invalid
from .models import CannedReply

PLACEHOLDERS = ("{name}", "{reference}")
MAX_BODY = 5000


def canned_replies(session: Session, *, active_only: bool = True) -> list[CannedReply]:
    """The replies by language, then title; only the active ones unless asked."""
    query = select(CannedReply).order_by(CannedReply.locale, CannedReply.title)
    if active_only:
        query = query.where(CannedReply.active)
    return list(session.exec(query).all())


def reply_groups(replies: Iterable[CannedReply],
                 case_locale: str) -> list[tuple[str, list[CannedReply]]]:
    """(locale, replies) groups, the case's language first (`pt_BR` also takes `pt`),
    then English, then the others."""
    groups: dict[str, list[CannedReply]] = {}
    for reply in replies:
        groups.setdefault(reply.locale, []).append(reply)
    first = [case_locale, case_locale.split("_")[0], "en"]
    rank = {code: i for i, code in reversed(list(enumerate(first)))}
    return sorted(groups.items(), key=lambda item: (rank.get(item[0], len(first)), item[0]))


def fill_reply(body: str, *, owner_name: str | None, reference: str) -> str:
    """The reply's text for one case: its placeholders replaced, nothing else touched."""
    return body.replace("{name}", owner_name or "").replace("{reference}", reference)


def save_reply(session: Session, *, reply: CannedReply | None, locale: str, title: str,
               body: str, active: bool = True, version: int | None = None,
               now: datetime | None = None) -> CannedReply:
    """Create a reply (`reply` None) or change one seen at `version` (409 when someone
    changed it since). A supported language, a title of 1-100 characters unique in its
    language and a body of 1-5000 characters are required."""
    title, body = " ".join(title.split()), body.strip()
    if locale not in SUPPORTED_LOCALES:
        raise Invalid(_("Unknown language: %(value)s", value=locale[:10]), field="locale")
    if not 1 <= len(title) <= 100:
        raise Invalid(_("A title of 1 to 100 characters, please."), field="title")
    if not 1 <= len(body) <= MAX_BODY:
        raise Invalid(_("A text of 1 to %(num)s characters, please.", num=MAX_BODY),
                      field="body")
    clash = session.exec(select(CannedReply.id).where(
        CannedReply.locale == locale, CannedReply.title == title)).first()
    if clash is not None and (reply is None or clash != reply.id):
        raise Invalid(_("There is already a reply with this title in this language."),
                      code="duplicate_title", field="title")
    if reply is None:
        reply = CannedReply(locale=locale, title=title, body=body, active=active)
    else:
        if version is not None and version != reply.version:
            raise Conflict()
        if (reply.locale, reply.title, reply.body, reply.active) == (locale, title, body,
                                                                      active):
            return reply
        reply.locale, reply.title, reply.body, reply.active = locale, title, body, active
        reply.version += 1
        reply.updated_at = now or utcnow()
    session.add(reply)
    session.flush()
    return reply


def upsert_canned_replies(session: Session, rows: Iterable[dict]) -> tuple[int, int]:
    """Seed replies keyed by (locale, title): new ones added, changed ones updated, equal
    ones left alone. Returns (created, updated)."""
    created = updated = 0
    for row in rows:
        existing = session.exec(select(CannedReply).where(
            CannedReply.locale == row["locale"], CannedReply.title == row["title"])).first()
        version = existing.version if existing else None
        reply = save_reply(session, reply=existing, locale=row["locale"], title=row["title"],
                           body=row["body"], active=row.get("active", True))
        created += existing is None
        updated += existing is not None and reply.version != version
    return created, updated
