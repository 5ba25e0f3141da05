"""Progressive sign-in delays per account: the rule, as pure functions.

After `free` failed sign-ins for one email address, each further attempt must wait
`2 ** (failures - free)` seconds after the last failure, capped at `cap` seconds; an
attempt during the wait is refused (429 with `Retry-After`) without checking the password
and without counting, so hammering cannot lengthen the wait, and the right password
after the wait signs in (and forgets the failures). Nobody can lock an account out: at
worst its owner waits `cap` seconds. Failures are forgotten `FORGET_AFTER` the last one.

The count is kept per email address as typed (normalised), whether or not an account
has it, so the answer never tells which accounts exist. It lives in the database
(`login_failures`, keyed by the address's SHA-256, never the address itself) rather
than in the rate limiter's storage: the database is the one store that every worker and
host shares in every deployment, including the default `memory://` rate-limit storage
with `serve --workers 2`, and a sign-in needs the database anyway. The per-address limit
(`LOGIN_RATE_LIMIT`) stays in the limiter.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

#: Failures older than this (counted from the last one) no longer count.
FORGET_AFTER = timedelta(hours=24)


def account_key(email: str) -> str:
    """The key of an email address's failures: the SHA-256 of its normalised form."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def delay_after(failures: int, *, free: int, cap: int) -> int:
    """Seconds to wait after the last of `failures` consecutive failures: none while
    fewer than `free` have failed, then 1, 2, 4, ... up to `cap`."""
    if failures < free:
        return 0
    return min(cap, 2 ** min(failures - free, 62))


def seconds_to_wait(failures: int, last_failed_at: datetime, now: datetime, *,
                    free: int, cap: int) -> int:
    """Whole seconds left before the next attempt may be checked (0: go ahead)."""
    if now - last_failed_at >= FORGET_AFTER:
        return 0
    left = (last_failed_at + timedelta(seconds=delay_after(failures, free=free, cap=cap))
            - now).total_seconds()
    return max(0, math.ceil(left))
