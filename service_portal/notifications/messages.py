"""What each notification says: an email in the recipient's language (plain text and HTML,
right to left where the language is), with the case reference, the change in words and a
link; owners' messages carry a one-click unsubscribe (RFC 8058). Internal notes and other
people's data never reach a message: the outbox holds only what its recipient may read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from babel import Locale
from flask import Flask, current_app, render_template, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from itsdangerous import URLSafeSerializer

from ..i18n import text_direction
from ..names import local_date, local_time
from ..vocabulary import BULLETIN_KINDS, CASE_STATUSES, ROLES, SEVERITIES, label
from .alerts import car_words, where_words
from .alerts import unsubscribe_token as alert_unsubscribe_token
from .models import Notification

UNSUBSCRIBE_SALT = "case-updates"
#: Long headers stay whole: a folded `List-Unsubscribe` URL would be turned into an
#: encoded word, which no mail program reads as a link. SMTP allows 998 characters.
HEADERS_UNFOLDED = email_policy.default.clone(max_line_length=998)
#: Kinds sent to owners (with an unsubscribe link); the others go to staff.
OWNER_KINDS = ("case_opened", "case_status", "case_note")
#: Kinds of recall alerts: the confirmation link, then the alerts (with an unsubscribe link).
ALERT_KINDS = ("alert_confirm", "bulletin_alert")
#: Where an alert sends owners for shops: the search, as the vehicle page lists them.
RECALL_SHOPS = {"service": "recall-work", "authorization": "authorized"}


def unsubscribe_token(secret_key: str, reference: str) -> str:
    """The token of a case's unsubscribe link: the reference, signed (no expiry: an old
    message must still let its reader stop the next ones)."""
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT).dumps(reference)


def reference_from_token(secret_key: str, token: str) -> str | None:
    try:
        value = URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT).loads(token)
    except Exception:  # noqa: BLE001 - itsdangerous raises several kinds for a bad token
        return None
    return value if isinstance(value, str) else None


def _content(n: Notification) -> dict:
    """Subject, paragraphs, quoted text and link of `n`, in the current locale."""
    ref = n.payload.get("reference", "")
    if n.kind in ALERT_KINDS:
        return _alert_content(n)
    if n.kind == "case_opened":
        return {"subject": _("We received your request %(reference)s", reference=ref),
                "paragraphs": [
                    _("Thank you: your request for help has reached our support team."),
                    _("Your reference is %(reference)s. With it and your email address you "
                      "can follow your case at any time.", reference=ref)],
                "link": (url_for("cases.status", reference=ref, _external=True),
                         _("Follow your case"))}
    if n.kind == "case_status":
        return {"subject": _("Case %(reference)s: %(status)s", reference=ref,
                             status=label(CASE_STATUSES, n.payload.get("after"))),
                "paragraphs": [_("The status of your case %(reference)s changed: %(before)s → "
                                 "%(after)s.", reference=ref,
                                 before=label(CASE_STATUSES, n.payload.get("before")),
                                 after=label(CASE_STATUSES, n.payload.get("after")))],
                "link": (url_for("cases.status", reference=ref, _external=True),
                         _("Follow your case"))}
    if n.kind == "case_note":
        who = _("The shop") if n.payload.get("from_shop") else _("Our support team")
        return {"subject": _("New message about your case %(reference)s", reference=ref),
                "paragraphs": [_("%(who)s wrote about your case %(reference)s:", who=who,
                                 reference=ref)],
                "quote": n.payload.get("body", ""),
                "link": (url_for("cases.status", reference=ref, _external=True),
                         _("Follow your case"))}
    if n.kind in ("account_invite", "password_reset"):
        return _account_content(n)
    if n.kind in ("credential_reviewed", "credential_expiring"):
        return _credential_content(n)
    staff_link = (url_for("staff_cases.case", reference=ref, _external=True),
                  _("Open the case"))
    if n.kind == "staff_new_case":
        return {"subject": _("New case %(reference)s", reference=ref),
                "paragraphs": [_("A new case %(reference)s was opened in your countries and "
                                 "brands.", reference=ref)], "link": staff_link}
    if n.kind == "staff_assigned":
        return {"subject": _("Case %(reference)s is assigned to you", reference=ref),
                "paragraphs": [_("The case %(reference)s is now yours.", reference=ref)],
                "link": staff_link}
    if n.kind == "staff_sla_warning":
        due = local_time(datetime.fromisoformat(n.payload["due"]), n.payload.get("zone"))
        return {"subject": _("Case %(reference)s is due within the hour", reference=ref),
                "paragraphs": [_("The case %(reference)s is due %(due)s.", reference=ref,
                                 due=due)], "link": staff_link}
    raise ValueError(f"unknown notification kind {n.kind!r}")


def _alert_content(n: Notification) -> dict:
    car = n.payload["car"]
    words = car_words(car)
    if n.kind == "alert_confirm":
        return {"subject": _("Confirm the recall alerts for your %(car)s", car=words),
                "paragraphs": [
                    _("Please confirm that you want an email whenever a recall or service "
                      "bulletin is published for your %(car)s (%(where)s).", car=words,
                      where=where_words(car)),
                    _("The link works for 72 hours. If you did not ask for this, ignore this "
                      "email: without your confirmation you will receive nothing more.")],
                "link": (url_for("notifications.alert_confirm", token=n.payload["token"],
                                 _external=True), _("Confirm the alerts")),
                "footer": _("You receive this email because someone asked for recall alerts "
                            "for this address.")}
    kind = label(BULLETIN_KINDS, n.payload["kind"])
    fallback = n.payload["text_locale"].split("_", 1)[0] != n.locale.split("_", 1)[0]
    title = n.payload["title"]
    if fallback:  # English, or a text in another language the bulletin has only
        text_locale = n.payload["text_locale"]
        marker = _("(in English)") if text_locale == "en" else \
            f"({Locale.parse(text_locale).get_display_name(str(get_locale()))})"
        title = f"{title} {marker}"
    shops = url_for("home.index", brand=n.payload["brand"], **RECALL_SHOPS, _external=True)
    return {"subject": _("%(kind)s for your %(car)s: %(title)s", kind=kind, car=words,
                         title=n.payload["title"]),
            "paragraphs": [
                _("A bulletin that applies to your %(car)s was published: %(code)s, %(kind)s, "
                  "severity %(severity)s.", car=words, code=n.payload["code"], kind=kind,
                  severity=label(SEVERITIES, n.payload["severity"])),
                title],
            "quote": n.payload["summary"],
            "quote_lang": n.payload["text_locale"].replace("_", "-") if fallback else None,
            "link": (url_for("bulletins.bulletin", code=n.payload["code"], _external=True),
                     _("Read the bulletin")),
            "more_links": [(shops, _("Find shops that do recall work"))],
            "footer": _("You receive this email because you asked for recall alerts for "
                        "this car."),
            "unsubscribe_label": _("No more recall alerts for this car")}


@contextmanager
def rendering(app: Flask) -> Iterator[None]:
    """The context `compose` needs: a request to `PUBLIC_BASE_URL`, so that links are
    absolute and names come from the catalog. One serves a whole batch."""
    with app.test_request_context("/", base_url=app.config["PUBLIC_BASE_URL"].rstrip("/")):
        yield


def _account_content(n: Notification) -> dict:
    """An invitation or a password reset: a link made now, for the account as it is now
    (a link in an older email of the same user stops working once a password is set)."""
    from ..db import get_session
    from ..users.links import link_token
    from ..users.models import User
    from .delivery import PermanentFailure

    user = get_session().get(User, n.payload.get("user_id"))
    if user is None or not user.active:
        raise PermanentFailure("the account is gone or disabled; no link sent")
    token = link_token(current_app.config["SECRET_KEY"], user,
                       "invite" if n.kind == "account_invite" else "reset")
    if n.kind == "account_invite":
        return {"subject": _("Your account on Service Portal"),
                "paragraphs": [
                    _("An account was made for you on Service Portal, as %(role)s.",
                      role=label(ROLES, user.role)),
                    _("Choose your password to start. The link works once, for 72 hours.")],
                "link": (url_for("account.invitation", token=token, _external=True),
                         _("Choose your password"))}
    return {"subject": _("Choose a new password"),
            "paragraphs": [
                _("Someone asked to reset the password of your account on Service Portal. "
                  "If it was you, choose a new one; the link works once, for 2 hours."),
                _("If it was not you, ignore this email: your password stays as it is.")],
            "link": (url_for("account.reset", token=token, _external=True),
                     _("Choose a new password"))}


def _credential_content(n: Notification) -> dict:
    """To a shop's dealers: staff's decision on a document, or its coming expiry."""
    shop = n.payload.get("shop", "")
    link = (url_for("credentials.dealer_list", shop_id=n.payload.get("shop_id"),
                    _external=True), _("Open the shop's evidence"))
    if n.kind == "credential_expiring":
        until = local_date(date.fromisoformat(n.payload["valid_until"]))
        what = (_("The high-voltage certificate of %(technician)s",
                  technician=n.payload.get("technician", ""))
                if n.payload.get("kind") == "hv" else _("The brand authorisation document"))
        return {"subject": _("%(shop)s: a document expires on %(date)s", shop=shop, date=until),
                "paragraphs": [
                    _("%(what)s at %(shop)s is valid until %(date)s.", what=what, shop=shop,
                      date=until),
                    _("Upload the renewed document before then: after that date owners see "
                      "the claim as declared, not verified.")],
                "link": link}
    if n.payload.get("state") == "verified":
        return {"subject": _("%(shop)s: a document is verified", shop=shop),
                "paragraphs": [_("Staff checked a document of %(shop)s and verified it: owners "
                                 "now see the claim as verified.", shop=shop)],
                "link": link}
    return {"subject": _("%(shop)s: a document was rejected", shop=shop),
            "paragraphs": [_("Staff checked a document of %(shop)s and could not accept it. "
                             "Their reason:", shop=shop)],
            "quote": n.payload.get("reason", ""), "link": link}


def compose(app: Flask, n: Notification) -> EmailMessage:
    """The email of notification `n` in `n.locale`; call it inside `rendering(app)`."""
    with force_locale(n.locale or "en"):
        content = _content(n)
        unsubscribe = None
        if n.kind in OWNER_KINDS:
            token = unsubscribe_token(app.config["SECRET_KEY"], n.payload["reference"])
            unsubscribe = url_for("notifications.unsubscribe", token=token, _external=True)
        elif n.kind == "bulletin_alert":
            token = alert_unsubscribe_token(app.config["SECRET_KEY"],
                                            n.payload["subscription"], n.payload["since"])
            unsubscribe = url_for("notifications.alert_unsubscribe", token=token,
                                  _external=True)
        context = {**content, "unsubscribe": unsubscribe, "lang": str(get_locale()),
                   "dir": text_direction(), "owner": n.kind in OWNER_KINDS}
        text = render_template("mail/message.txt", **context)
        html = render_template("mail/message.html", **context)
        lang = str(get_locale()).replace("_", "-")
    message = EmailMessage(policy=HEADERS_UNFOLDED)
    message["Subject"] = content["subject"]
    name, address = parseaddr(app.config["MAIL_FROM"])
    message["From"] = Address(display_name=name, addr_spec=address)
    message["To"] = n.recipient
    message["Date"] = format_datetime(n.created_at)
    domain = address.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<notification-{n.id}.{int(n.created_at.timestamp())}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Portal-Notification"] = str(n.id)
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message["Content-Language"] = lang  # after the content, which clears Content-* headers
    return message
