"""Handing messages over: to an SMTP server (`SMTP_URL`), or, with none set, into `.eml`
files in a folder (the demo's `instance/mail/`). Failures are sorted into temporary ones
(try again later) and permanent ones (the server refused this message for good)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

TIMEOUT_SECONDS = 20


class TemporaryFailure(Exception):
    """Try again later: the server is unreachable, busy, or answered 4xx."""


class PermanentFailure(Exception):
    """The server refused the message (5xx): sending it again would not help."""


class SmtpTransport:
    """One SMTP connection for a batch of messages. `smtp://` uses STARTTLS when the server
    offers it (and requires it once credentials are given); `smtps://` is TLS from the
    first byte."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://...")
        self.tls = parts.scheme == "smtps"
        self.host, self.port = parts.hostname, parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None

    def where(self) -> str:
        return f"{'smtps' if self.tls else 'smtp'}://{self.host}:{self.port}"

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.tls:
            connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=context)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            connection.ehlo()
            if connection.has_extn("starttls"):
                connection.starttls(context=context)
                connection.ehlo()
            elif self.user:
                connection.close()
                raise PermanentFailure("the server offers no STARTTLS; credentials not sent")
        if self.user:
            connection.login(self.user, self.password or "")
        return connection

    def send(self, message: EmailMessage) -> None:
        try:
            if self._connection is None:
                self._connection = self._connect()
            self._connection.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _text in exc.recipients.values()]
            failure = TemporaryFailure if all(400 <= c < 500 for c in codes) else \
                PermanentFailure
            raise failure(_describe(exc)) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            failure = TemporaryFailure if 400 <= exc.smtp_code < 500 else PermanentFailure
            raise failure(_describe(exc)) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TemporaryFailure(_describe(exc)) from None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (OSError, smtplib.SMTPException):
                self._connection.close()
            self._connection = None


class FolderTransport:
    """Each message as `<notification id>.eml` in a folder, for trying the portal out
    without a mail server; any mail program opens them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def where(self) -> str:
        return str(self.folder)

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = message["X-Portal-Notification"] or "message"
        path = self.folder / f"{name}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(bytes(message))
        partial.replace(path)  # whole or not at all

    def close(self) -> None:
        pass


def transport_for(config, instance_path: str) -> SmtpTransport | FolderTransport:
    """The SMTP server of `SMTP_URL`, or the instance folder's `mail/` when it is empty."""
    if config.get("SMTP_URL"):
        return SmtpTransport(config["SMTP_URL"])
    return FolderTransport(Path(instance_path) / "mail")


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
