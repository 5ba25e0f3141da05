"""Reading bulletins: which apply to a vehicle, and one bulletin with its rendered body."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import QueryableAttribute
from sqlmodel import Session, select

from ..catalog.models import Brand, VehicleModel
from .models import Bulletin, BulletinCountry, BulletinModel, BulletinText

#: What a bulletin body may carry once rendered; everything else is stripped.
ALLOWED_TAGS = frozenset({"p", "ul", "ol", "li", "strong", "em", "code", "pre", "h3", "h4", "a"})
LINK_REL = "noopener nofollow"
FALLBACK_LOCALE = "en"

# Raw HTML in the Markdown source is not passed through: it shows as text, and the
# sanitiser below is the backstop should the renderer ever let some through.
_markdown = MarkdownIt("commonmark", {"html": False})


def locale_chain(locale: str) -> list[str]:
    """Locales to try for a text, best first: the locale, its language, then English."""
    chain = [locale, locale.split("_", 1)[0], FALLBACK_LOCALE]
    return list(dict.fromkeys(c for c in chain if c))


def applicable_bulletins(session: Session, *, brand_id: int, model_id: int | None = None,
                         year: int | None = None, country: str | None = None,
                         kind: str | None = None, locale: str = "en") -> list[dict[str, Any]]:
    """Bulletins of the brand that apply to the vehicle, newest first (then by code).

    A bulletin without models applies to every model of its brand, a null year leaves that
    end open, and one without countries applies in every market. A criterion not given
    does not filter: without a model, model-specific bulletins of the brand are listed too.
    Texts are in `locale`, else its language, else English (then `fallback` is true).
    """
    query = select(Bulletin).where(Bulletin.brand_id == brand_id,
                                   *applies_to(model_id=model_id, year=year, country=country))
    if kind is not None:
        query = query.where(Bulletin.kind == kind)
    bulletins = session.exec(query.order_by(Bulletin.published.desc(), Bulletin.code)).all()
    return _documents(session, bulletins, locale)


def applies_to(*, model_id: Any, year: Any, country: Any) -> list[ColumnElement[bool]]:
    """Conditions on `Bulletin` (its brand aside) for "applies to this car": its models
    (none: every model) include `model_id`, its years (null: open) include `year`, its
    countries (none: every country) include `country`.

    Each criterion is a value, where None does not filter, or a column of another table
    in the query, where NULL does not filter: so the one rule finds the bulletins of a car
    (the vehicle page) and the cars of a bulletin (recall alert subscriptions)."""
    rules = (
        (model_id, lambda v: or_(
            ~exists().where(BulletinModel.bulletin_id == Bulletin.id),
            exists().where(BulletinModel.bulletin_id == Bulletin.id,
                           BulletinModel.model_id == v))),
        (year, lambda v: and_(or_(Bulletin.year_from.is_(None), Bulletin.year_from <= v),
                              or_(Bulletin.year_to.is_(None), Bulletin.year_to >= v))),
        (country, lambda v: or_(
            ~exists().where(BulletinCountry.bulletin_id == Bulletin.id),
            exists().where(BulletinCountry.bulletin_id == Bulletin.id,
                           BulletinCountry.country == v))),
    )
    conditions = []
    for value, rule in rules:
        if isinstance(value, ColumnElement | QueryableAttribute):
            conditions.append(or_(value.is_(None), rule(value)))
        elif value is not None:
            conditions.append(rule(value))
    return conditions


def bulletin_detail(session: Session, code: str, locale: str = "en") -> dict[str, Any] | None:
    """One bulletin by code as in the list, plus its Markdown `body` and `body_html`
    (rendered and sanitised); None when there is no such bulletin."""
    bulletin = session.exec(select(Bulletin).where(Bulletin.code == code)).first()
    if bulletin is None:
        return None
    doc = _documents(session, [bulletin], locale, with_body=True)[0]
    doc["body_html"] = render_markdown(doc["body"])
    return doc


def render_markdown(source: str) -> str:
    """Markdown to HTML that is safe to put in a page: only a few tags, and links only to
    http(s) addresses, marked `noopener nofollow`."""
    return nh3.clean(_markdown.render(source), tags=set(ALLOWED_TAGS),
                     attributes={"a": {"href"}}, attribute_filter=_web_links_only,
                     url_schemes={"http", "https"}, link_rel=LINK_REL)


def _web_links_only(tag: str, attribute: str, value: str) -> str | None:
    # Relative and scheme-less links would resolve against the portal itself.
    if tag == "a" and attribute == "href":
        return value if value.lower().startswith(("http://", "https://")) else None
    return value


def _documents(session: Session, bulletins: list[Bulletin], locale: str, *,
               with_body: bool = False) -> list[dict[str, Any]]:
    """Shape bulletins for the API with a few bulk queries for the whole page."""
    if not bulletins:
        return []
    ids = [b.id for b in bulletins]
    brands = dict(session.exec(select(Brand.id, Brand.slug).where(
        Brand.id.in_({b.brand_id for b in bulletins}))).all())
    models: dict[int, list[str]] = defaultdict(list)
    for bulletin_id, slug in session.exec(
            select(BulletinModel.bulletin_id, VehicleModel.slug)
            .join(VehicleModel, VehicleModel.id == BulletinModel.model_id)
            .where(BulletinModel.bulletin_id.in_(ids)).order_by(VehicleModel.slug)):
        models[bulletin_id].append(slug)
    countries: dict[int, list[str]] = defaultdict(list)
    for bulletin_id, country in session.exec(
            select(BulletinCountry.bulletin_id, BulletinCountry.country)
            .where(BulletinCountry.bulletin_id.in_(ids)).order_by(BulletinCountry.country)):
        countries[bulletin_id].append(country)
    texts = _best_texts(session, ids, locale)
    language = locale.split("_", 1)[0]
    docs = []
    for b in bulletins:
        text = texts.get(b.id)
        doc = {
            "code": b.code, "kind": b.kind, "brand": brands[b.brand_id],
            "models": models.get(b.id, []), "year_from": b.year_from, "year_to": b.year_to,
            "countries": countries.get(b.id, []), "severity": b.severity,
            "published": b.published.isoformat(),
            "title": text.title if text else "", "summary": text.summary if text else "",
            "lang": text.locale if text else None,
            "fallback": text is None or text.locale.split("_", 1)[0] != language,
        }
        if with_body:
            doc["body"] = text.body if text else ""
        docs.append(doc)
    return docs


def _best_texts(session: Session, ids: list[int], locale: str) -> dict[int, BulletinText]:
    """Per bulletin, its text earliest in the locale chain, else any text it has."""
    chain = locale_chain(locale)
    rank = {loc: i for i, loc in enumerate(chain)}
    best: dict[int, BulletinText] = {}
    for text in session.exec(select(BulletinText).where(BulletinText.bulletin_id.in_(ids),
                                                         BulletinText.locale.in_(chain))):
        have = best.get(text.bulletin_id)
        if have is None or rank[text.locale] < rank[have.locale]:
            best[text.bulletin_id] = text
    missing = [i for i in ids if i not in best]
    if missing:
        # English is required on write, but rows loaded by other means may lack it.
        for text in session.exec(select(BulletinText).where(
                BulletinText.bulletin_id.in_(missing)).order_by(BulletinText.locale)):
            best.setdefault(text.bulletin_id, text)
    return best


def bulletin_source(session: Session, code: str) -> dict[str, Any] | None:
    """The bulletin as staff write it (CONTRACT section 6: every language's texts), for
    the editor and for audit snapshots; None when absent."""

    row = session.exec(select(Bulletin, Brand.slug).join(Brand, Brand.id == Bulletin.brand_id)
                       .where(Bulletin.code == code)).first()
    if row is None:
        return None
    bulletin, brand = row
    models = session.exec(select(VehicleModel.slug).join(
        BulletinModel, BulletinModel.model_id == VehicleModel.id)
        .where(BulletinModel.bulletin_id == bulletin.id).order_by(VehicleModel.slug)).all()
    countries = session.exec(select(BulletinCountry.country)
                             .where(BulletinCountry.bulletin_id == bulletin.id)
                             .order_by(BulletinCountry.country)).all()
    texts = session.exec(select(BulletinText).where(BulletinText.bulletin_id == bulletin.id)
                         .order_by(BulletinText.locale)).all()
    return {"code": bulletin.code, "kind": bulletin.kind, "brand": brand,
            "models": list(models), "year_from": bulletin.year_from,
            "year_to": bulletin.year_to, "countries": list(countries),
            "severity": bulletin.severity, "published": bulletin.published.isoformat(),
            "texts": {t.locale: {"title": t.title, "summary": t.summary, "body": t.body}
                      for t in texts}}


def staff_bulletins(session: Session, *, brand: str | None = None,
                    kind: str | None = None) -> list[dict[str, Any]]:
    """Every bulletin for the staff list, newest first (then by code), with the locales
    it has texts in; `brand` (slug) and `kind` narrow it."""
    query = (select(Bulletin, Brand.slug, Brand.name)
             .join(Brand, Brand.id == Bulletin.brand_id))
    if brand:
        query = query.where(Brand.slug == brand)
    if kind:
        query = query.where(Bulletin.kind == kind)
    rows = session.exec(query.order_by(Bulletin.published.desc(), Bulletin.code)).all()
    locales: dict[int, list[str]] = defaultdict(list)
    ids = [bulletin.id for bulletin, _slug, _name in rows]
    if ids:
        for bulletin_id, locale in session.exec(
                select(BulletinText.bulletin_id, BulletinText.locale)
                .where(BulletinText.bulletin_id.in_(ids)).order_by(BulletinText.locale)):
            locales[bulletin_id].append(locale)
    return [{"code": b.code, "kind": b.kind, "brand": slug, "brand_name": name,
             "severity": b.severity, "published": b.published, "version": b.version,
             "locales": locales.get(b.id, [])} for b, slug, name in rows]

