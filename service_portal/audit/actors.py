"""Who makes a change: one value for people, tokens, the command line and owners."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Protocol

#: The width of `actor_label` in `audit_log` and `case_events`.
LABEL_LENGTH = 100
#: The longest "how" kept whole (a token's name may be 100 characters).
_HOW_LENGTH = 40


class _Person(Protocol):
    id: int | None
    email: str


class _Token(Protocol):
    id: int | None
    name: str


def _label(who: str, how: str) -> str:
    """`who (how)`, shortening `who` (never the parenthesis) to fit LABEL_LENGTH."""
    how = how[:_HOW_LENGTH]
    return f"{who[:LABEL_LENGTH - len(how) - 3]} ({how})"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, as the audit log and case events store it.

    `user_id` is the account (None for an owner, an anonymous visitor or the command
    line), `token_id` the API token the change came through (None otherwise) and `label`
    what people read, always `who (how)`:

    - `ana@shop.example (web)`: signed in with a browser;
    - `ana@shop.example (token laptop)`: a Bearer token, by its name;
    - `deploy (command line)`: the `service-portal` command, by the shell's user;
    - `ana@shop.example (email link)`: a link emailed to her (invitation, password reset);
    - `owner (web)` and `anonymous (web)`: nobody signed in.
    """

    user_id: int | None
    label: str
    token_id: int | None = None

    @classmethod
    def web(cls, user: _Person) -> Actor:
        return cls(user.id, _label(user.email, "web"))

    @classmethod
    def api(cls, user: _Person, token: _Token) -> Actor:
        return cls(user.id, _label(user.email, f"token {token.name}"), token.id)

    @classmethod
    def command_line(cls, who: str | None = None) -> Actor:
        """The shell user running the command (`who`, by default the login name)."""
        if who is None:
            try:
                who = getpass.getuser()
            except Exception:  # noqa: BLE001 - no name known (a container without one)
                who = "operator"
        return cls(None, _label(who or "operator", "command line"))

    @classmethod
    def email_link(cls, user: _Person) -> Actor:
        """Whoever holds a link emailed to `user` (an invitation or a password reset)."""
        return cls(user.id, _label(user.email, "email link"))

    @classmethod
    def owner(cls) -> Actor:
        """A car owner using the public pages or API (never named: personal data)."""
        return cls(None, _label("owner", "web"))

    @classmethod
    def anonymous(cls) -> Actor:
        return cls(None, _label("anonymous", "web"))
