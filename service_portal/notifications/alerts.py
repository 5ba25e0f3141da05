"""Recall alerts: an owner subscribes for a car (double opt-in: a link valid 72 hours), and
each bulletin published for that car, or re-published with a text new to them, sends them
one message in their language.

Which subscriptions a bulletin reaches is the vehicle page's rule (`bulletins.queries.
applies_to`), read the other way round: what a subscription does not say does not narrow.
A subscription without a country hears of bulletins for any country, one by VIN whose
model the VIN does not tell hears of every model's bulletins of its brand and year, as
the "My car" page lists them: an owner told once too often is better off than one never
told of a recall that was theirs."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from itsdangerous import BadData, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import and_, delete
from sqlmodel import Session, select

from ..bulletins.models import Bulletin, BulletinText
from ..bulletins.queries import applies_to, locale_chain
from ..catalog.models import Brand, VehicleModel
from ..catalog.queries import decode_known_vin, vin_mismatch
from ..db import utcnow
from ..errors import Invalid
from .models import AlertSubscription, Notification
from .outbox import enqueue
from .schemas import AlertRequest

CONFIRM_SALT = "recall-alert-confirm"
UNSUBSCRIBE_SALT = "recall-alert-unsubscribe"
#: How long a confirmation link works; unconfirmed subscriptions older than this go.
CONFIRM_WITHIN = timedelta(hours=72)


# --- links ------------------------------------------------------------------------------

def _stamp(subscription: AlertSubscription) -> int:
    # With the id, so that a link never reaches a later subscription given a reused id.
    return int(subscription.created_at.timestamp())


def confirm_token(secret_key: str, subscription: AlertSubscription) -> str:
    """The token of the confirmation link: the subscription, signed with the time."""
    return URLSafeTimedSerializer(secret_key, salt=CONFIRM_SALT).dumps(
        [subscription.id, _stamp(subscription)])


def unsubscribe_token(secret_key: str, subscription_id: int, stamp: int) -> str:
    """The token of a subscription's unsubscribe link (no expiry: an old alert must still
    let its reader stop the next ones)."""
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT).dumps([subscription_id, stamp])


def _held(session: Session, value: Any) -> AlertSubscription | None:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        return None
    subscription = session.get(AlertSubscription, value[0]) if 0 < value[0] < 2**31 else None
    return subscription if subscription and _stamp(subscription) == value[1] else None


def confirm_subscription(session: Session, secret_key: str, token: str, *,
                         now: datetime | None = None) -> tuple[str, AlertSubscription | None]:
    """Confirm the subscription of a confirmation link: (`confirmed` | `already` |
    `expired` | `invalid`, the subscription). A second use only says it is confirmed."""
    try:
        value = URLSafeTimedSerializer(secret_key, salt=CONFIRM_SALT).loads(
            token, max_age=int(CONFIRM_WITHIN.total_seconds()))
    except SignatureExpired:
        return "expired", None
    except BadData:
        return "invalid", None
    subscription = _held(session, value)
    if subscription is None:
        return "invalid", None
    if subscription.confirmed_at is not None:
        return "already", subscription
    subscription.confirmed_at = now or utcnow()
    session.add(subscription)
    session.flush()
    return "confirmed", subscription


def subscription_to_end(session: Session, secret_key: str,
                        token: str) -> tuple[bool, AlertSubscription | None]:
    """(whether the unsubscribe token is genuine, its subscription if it still exists)."""
    try:
        value = URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT).loads(token)
    except BadData:
        return False, None
    return True, _held(session, value)


def end_subscription(session: Session, subscription: AlertSubscription) -> None:
    """Unsubscribe: the subscription goes (its address with it)."""
    session.execute(delete(AlertSubscription).where(AlertSubscription.id == subscription.id))


def forget_unconfirmed(session: Session, *, now: datetime | None = None) -> int:
    """Unconfirmed subscriptions whose link has expired go: nobody asked for them twice.
    Returns how many."""
    cutoff = (now or utcnow()) - CONFIRM_WITHIN
    return session.execute(delete(AlertSubscription).where(
        AlertSubscription.confirmed_at.is_(None),
        AlertSubscription.created_at < cutoff)).rowcount


# --- subscribing ------------------------------------------------------------------------

def subscribe(session: Session, data: AlertRequest, *, secret_key: str,
              locale: str = "en") -> AlertSubscription:
    """Record an unconfirmed subscription for the car of `data` and queue its confirmation
    message. Asking again for the same car, address and country reuses the subscription:
    unconfirmed, the link is sent again; confirmed, nothing is sent (the caller answers
    the same either way, so nobody learns whether an address is subscribed).

    The car is a VIN (decoded against the catalog; a model or year also given must agree
    with it) or a model and its year."""
    brand_id, model_id, year, vin = _car(session, data)
    same = {"email": data.email, "vin": vin, "brand_id": brand_id, "model_id": model_id,
            "model_year": year, "country": data.country}
    subscription = session.exec(select(AlertSubscription).where(*(
        getattr(AlertSubscription, k).is_(None) if v is None
        else getattr(AlertSubscription, k) == v for k, v in same.items()))).first()
    if subscription is None:
        subscription = AlertSubscription(**same, locale=data.locale or locale)
        session.add(subscription)
        session.flush()
    elif subscription.confirmed_at is not None:
        return subscription
    else:
        subscription.locale = data.locale or locale
    enqueue(session, kind="alert_confirm", recipient=subscription.email,
            locale=subscription.locale,
            payload={"subscription": subscription.id,
                     "token": confirm_token(secret_key, subscription),
                     "car": car_of(session, subscription)})
    return subscription


def _car(session: Session, data: AlertRequest) -> tuple[int, int | None, int | None, str | None]:
    """(brand id, model id, model year, VIN) of the car `data` names."""
    row = None
    if data.model:
        row = session.exec(select(VehicleModel.id, VehicleModel.slug, VehicleModel.brand_id,
                                  Brand.slug.label("brand"))
                           .join(Brand, Brand.id == VehicleModel.brand_id)
                           .where(VehicleModel.slug == data.model)).first()
        if row is None:
            raise Invalid(_("Unknown model: %(value)s", value=data.model[:80]),
                          code="unknown_model", field="model")
    if not data.vin:
        if row is None:
            raise Invalid(_("Say which car: a VIN or a model."), code="missing_vehicle",
                          field="vin")
        if data.year is None:
            raise Invalid(_("Give the model year of the car too."), code="missing_year",
                          field="year")
        return row.brand_id, row.id, data.year, None
    info = decode_known_vin(session, data.vin)
    if row is not None:
        if (info.brand and info.brand != row.brand) or (info.model and info.model != row.slug):
            raise vin_mismatch("model")
    if data.year is not None and info.model_year is not None and data.year != info.model_year:
        raise vin_mismatch("year")
    year = data.year if data.year is not None else info.model_year
    if row is not None:
        return row.brand_id, row.id, year, info.vin
    brand_id = session.scalar(select(Brand.id).where(Brand.slug == info.brand)) \
        if info.brand else None
    if brand_id is None:
        raise Invalid(_("The brand of this VIN is not known; give the brand or model."),
                      code="unknown_brand", field="vin")
    model_id = session.scalar(select(VehicleModel.id).where(VehicleModel.slug == info.model)) \
        if info.model else None
    return brand_id, model_id, year, info.vin


def car_of(session: Session, subscription: AlertSubscription) -> dict[str, Any]:
    """The subscription's car as messages and pages name it (names, never slugs)."""
    brand = session.get(Brand, subscription.brand_id)
    model = session.get(VehicleModel, subscription.model_id) if subscription.model_id else None
    return {"brand": brand.name if brand else "", "model": model.name if model else None,
            "year": subscription.model_year, "country": subscription.country,
            "vin": subscription.vin}


def car_words(car: dict[str, Any]) -> str:
    """"BYD Atto 3, model year 2023", in the current locale."""
    name = f"{car['brand']} {car['model']}" if car.get("model") else car["brand"]
    if car.get("year"):
        return _("%(car)s, model year %(year)s", car=name, year=car["year"])
    return name


def where_words(car: dict[str, Any]) -> str:
    """Where the alerts apply: the country's name in the current locale, or any country."""
    if not car.get("country"):
        return _("in any country")
    names = get_locale().territories if get_locale() else {}
    return _("in %(country)s", country=names.get(car["country"], car["country"]))


# --- alerting ---------------------------------------------------------------------------

def text_digest(text: BulletinText) -> str:
    """What identifies a version of a bulletin's text: its words, digested."""
    words = "\0".join((text.locale, text.title, text.summary, text.body))
    return hashlib.sha256(words.encode()).hexdigest()[:20]


def alert_subscribers(session: Session, bulletin: Bulletin) -> int:
    """Queue a `bulletin_alert` for each confirmed subscription whose car `bulletin`
    applies to (`applies_to`), in the subscriber's language (else English, marked), unless
    that subscription was already sent this bulletin with the same text. Call it after a
    bulletin is written (created, or changed in any way: a new text, or a market or model
    added); returns how many messages were queued."""
    rule = applies_to(model_id=AlertSubscription.model_id, year=AlertSubscription.model_year,
                      country=AlertSubscription.country)
    subscriptions = session.exec(
        select(AlertSubscription)
        .join(Bulletin, and_(Bulletin.id == bulletin.id,
                             Bulletin.brand_id == AlertSubscription.brand_id))
        .where(AlertSubscription.confirmed_at.is_not(None), *rule)
        .order_by(AlertSubscription.id)).all()
    if not subscriptions:
        return 0
    texts = {t.locale: t for t in session.exec(
        select(BulletinText).where(BulletinText.bulletin_id == bulletin.id))}
    if not texts:
        return 0
    payload = Notification.payload
    told = set(session.execute(
        select(payload["subscription"].as_integer(), payload["text"].as_string())
        .where(Notification.kind == "bulletin_alert",
               Notification.recipient.in_({s.email for s in subscriptions}),
               payload["code"].as_string() == bulletin.code)).all())
    brand_slug = session.scalar(select(Brand.slug).where(Brand.id == bulletin.brand_id))
    queued = 0
    for subscription in subscriptions:
        text = _best_text(texts, subscription.locale)
        digest = text_digest(text)
        if (subscription.id, digest) in told:
            continue
        enqueue(session, kind="bulletin_alert", recipient=subscription.email,
                locale=subscription.locale,
                payload={"subscription": subscription.id, "since": _stamp(subscription),
                         "code": bulletin.code, "text": digest, "kind": bulletin.kind,
                         "severity": bulletin.severity, "brand": brand_slug,
                         "title": text.title, "summary": text.summary,
                         "text_locale": text.locale, "car": car_of(session, subscription)})
        queued += 1
    return queued


def _best_text(texts: dict[str, BulletinText], locale: str) -> BulletinText:
    """The text in the locale, else its language, else English, else any (as pages do)."""
    for candidate in locale_chain(locale):
        if candidate in texts:
            return texts[candidate]
    return texts[min(texts)]
