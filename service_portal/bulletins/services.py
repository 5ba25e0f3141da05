"""Writing bulletins: create or update one by its code, with its texts and applicability."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import Session, delete, select

from ..audit.actors import Actor
from ..audit.services import record
from ..catalog.services import brand_ids, model_index
from ..db import utcnow
from ..errors import Invalid
from ..notifications.alerts import alert_subscribers
from .models import Bulletin, BulletinCountry, BulletinModel, BulletinText
from .queries import bulletin_source
from .schemas import BulletinIn


def upsert_bulletin(session: Session, data: BulletinIn, *,
                    actor: Actor) -> tuple[Bulletin, bool]:
    """Create or update the bulletin `data.code`; returns (bulletin, changed).

    Models must belong to the bulletin's brand. Nothing is touched when nothing differs;
    a change is audited once (`bulletin.create` or `bulletin.update`, with the bulletin
    as it was before and as written) and alerts the subscribers whose car it applies to
    (`alert_subscribers`: once per text they read)."""
    brands, models = brand_ids(session), model_index(session)
    brand_id = brands.get(data.brand)
    if brand_id is None:
        raise Invalid(_("Unknown brand: %(value)s", value=data.brand), field="brand")
    model_ids = set()
    for slug in data.models:
        if slug not in models or models[slug][1] != brand_id:
            raise Invalid(_("Unknown model for this brand: %(value)s", value=slug),
                          field="models")
        model_ids.add(models[slug][0])
    values = {"kind": data.kind, "brand_id": brand_id, "year_from": data.year_from,
              "year_to": data.year_to, "severity": data.severity, "published": data.published}
    before = bulletin_source(session, data.code)
    bulletin = session.exec(select(Bulletin).where(Bulletin.code == data.code)).first()
    created = bulletin is None
    if created:
        bulletin = Bulletin(code=data.code, **values)
        session.add(bulletin)
        session.flush()
    changed = created or any(getattr(bulletin, k) != v for k, v in values.items())
    for k, v in values.items():
        setattr(bulletin, k, v)
    changed |= _sync_links(session, bulletin.id, model_ids, set(data.countries))
    changed |= _sync_texts(session, bulletin.id, data)
    if changed and not created:
        bulletin.version += 1
        bulletin.updated_at = utcnow()
    session.flush()
    if changed:
        # In this transaction: a bulletin rolled back alerts nobody.
        alert_subscribers(session, bulletin)
        record(session, actor=actor, action="bulletin.create" if created else "bulletin.update",
               entity_type="bulletin", entity_id=data.code, before=before,
               after=data.model_dump(mode="json"))
    return bulletin, changed


def _sync_links(session: Session, bulletin_id: int, model_ids: set[int],
                countries: set[str]) -> bool:
    have_models = set(session.exec(select(BulletinModel.model_id)
                                   .where(BulletinModel.bulletin_id == bulletin_id)).all())
    have_countries = set(session.exec(select(BulletinCountry.country)
                                      .where(BulletinCountry.bulletin_id == bulletin_id)).all())
    changed = False
    if have_models != model_ids:
        session.exec(delete(BulletinModel).where(BulletinModel.bulletin_id == bulletin_id))
        session.add_all(BulletinModel(bulletin_id=bulletin_id, model_id=m) for m in model_ids)
        changed = True
    if have_countries != countries:
        session.exec(delete(BulletinCountry).where(BulletinCountry.bulletin_id == bulletin_id))
        session.add_all(BulletinCountry(bulletin_id=bulletin_id, country=c) for c in countries)
        changed = True
    return changed


def _sync_texts(session: Session, bulletin_id: int, data: BulletinIn) -> bool:
    have = {t.locale: t for t in session.exec(
        select(BulletinText).where(BulletinText.bulletin_id == bulletin_id))}
    changed = False
    for locale, text in data.texts.items():
        row = have.pop(locale, None)
        values = text.model_dump()
        if row is None:
            session.add(BulletinText(bulletin_id=bulletin_id, locale=locale, **values))
            changed = True
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            changed = True
    for row in have.values():
        session.delete(row)
        changed = True
    return changed
