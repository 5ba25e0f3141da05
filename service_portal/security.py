"""Security baseline for every response (CONTRACT section 10): headers and CSP nonces."""

from __future__ import annotations

import math
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from .audit.actors import Actor

#: Rate limits (CONTRACT section 10); counters live where RATELIMIT_STORAGE_URI says, so
#: several workers and hosts share them through Redis. When that storage cannot be
#: reached, each process counts in memory until it can again (logged, and shown by
#: `rate_limit_health`) rather than failing the request. Only a 429 carries `Retry-After`
#: (set by the error handler from the limit it hit): the limiter's own headers would put
#: it on every answer and overwrite a 503's.
limiter = Limiter(key_func=get_remote_address, headers_enabled=False,
                  in_memory_fallback_enabled=True, swallow_errors=True)


def rate_limit_health() -> dict:
    """Where rate limits are counted: the configured storage, whether it answers now,
    and whether this process is counting in memory instead."""
    storage = limiter.storage
    try:
        reachable = bool(storage.check())
    except Exception:  # noqa: BLE001 - any failure means: not reachable
        reachable = False
    return {"storage": type(storage).STORAGE_SCHEME[0], "reachable": reachable,
            # Flask-Limiter keeps this flag private; it is the one place it says so.
            "counting_in_memory": bool(limiter._storage_dead)}


def retry_after_seconds() -> int:
    """Seconds until the limit this request hit lets it through again."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))
#: CSRF tokens on every cookie-authenticated write; the token-authenticated API is exempt
#: (it reads no cookie, so a forged cross-site request carries no credentials).
csrf = CSRFProtect()


def _signed_in() -> bool:
    from flask_login import current_user

    return bool(current_user and current_user.is_authenticated)


def holds_personal_data(bp) -> None:
    """Every answer of blueprint `bp` shows personal data: `Cache-Control: no-store`."""
    def _mark() -> None:
        g.personal_data = True
    bp.before_request(_mark)


def csp_nonce() -> str:
    """A per-request nonce for the few inline scripts pages carry."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def relative_location(response):
    """Redirects name a path on this site, never the request's `Host`: werkzeug's own
    redirects (a missing trailing slash) are absolute, built from that header, which
    anyone can set. TRUSTED_HOSTS refuses unknown hosts before this runs."""
    location = response.headers.get("Location")
    if location and location.startswith(("http://", "https://")):
        parts = urlsplit(location)
        if parts.netloc == request.host and parts.path.startswith("/") \
                and not parts.path.startswith("//"):
            response.headers["Location"] = urlunsplit(("", "", parts.path, parts.query,
                                                       parts.fragment))
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(relative_location)
    # An unreachable Redis fails fast, so the request goes on counting in memory.
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 0.5,
                                                        "socket_timeout": 0.5})
    limiter.init_app(app)
    csrf.init_app(app)
    app.extensions["service_portal.passwords"] = Passwords.from_config(app.config)
    app.teardown_request(_record_token_use)

    @app.after_request
    def _headers(response):
        tiles = app.config["MAP_TILE_URL"].split("/{", 1)[0]
        nonce = csp_nonce()
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
            f"style-src 'self'; img-src 'self' data: {tiles}; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint == "static":
            return response  # the same for everyone; `static_files` sets its caching
        if _signed_in() or g.get("api_user") is not None or g.get("personal_data"):
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        return response


# --- Passwords and tokens -------------------------------------------------------------

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
TOKEN_PREFIX = "spt_"


class Passwords:
    """The app's argon2id hasher (the ARGON2_* settings), and a dummy hash made once with
    the same parameters: checking a password against an account that does not exist (or
    has no password) verifies the dummy, so it costs what a real check costs and the
    answer's timing tells nothing about which accounts exist."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        from argon2 import PasswordHasher

        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                     parallelism=parallelism)
        self._dummy_hash: str | None = None

    @classmethod
    def from_config(cls, config) -> Passwords:
        return cls(time_cost=config["ARGON2_TIME_COST"], memory_kib=config["ARGON2_MEMORY_KIB"],
                   parallelism=config["ARGON2_PARALLELISM"])

    @property
    def dummy_hash(self) -> str:
        if self._dummy_hash is None:  # two threads may both make one: either will do
            self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(24))
        return self._dummy_hash


#: Outside an app (scripts, tests): argon2-cffi's recommended parameters, the defaults.
_DEFAULT_PASSWORDS = Passwords(time_cost=3, memory_kib=65536, parallelism=4)


def _passwords() -> Passwords:
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.extensions.get("service_portal.passwords", _DEFAULT_PASSWORDS)
    return _DEFAULT_PASSWORDS


def hash_password(password: str) -> str:
    return _passwords().hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`. Without a hash the app's dummy hash is
    verified instead (and the answer is no), so both cases take the same time."""
    from argon2.exceptions import InvalidHashError, VerificationError

    passwords = _passwords()
    try:
        matches = passwords.hasher.verify(password_hash or passwords.dummy_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and bool(password_hash)


def password_needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the app's (rehash at sign-in,
    so every account's check costs the same as the dummy's)."""
    try:
        return _passwords().hasher.check_needs_rehash(password_hash)
    except ValueError:  # not an argon2 hash at all
        return True


def new_token() -> str:
    """256 random bits, URL-safe, with a prefix that secret scanners recognise."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


# --- API tokens -------------------------------------------------------------------------

def bearer_token() -> str | None:
    """The token of `Authorization: Bearer <token>`, the only place a token is accepted."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_failure_limit() -> str:
    from flask import current_app

    return current_app.config["TOKEN_FAILURE_LIMIT"]


def failed_auth(response) -> bool:
    return response.status_code == 401


#: Failed token attempts (401s only) are counted per client address in one scope shared
#: by every Bearer-authenticated route, whatever its blueprint: guessing tokens on one
#: route and then another draws on the same allowance. Counters live with the other
#: rate limits (Redis when RATELIMIT_STORAGE_URI says so).
token_failures = limiter.shared_limit(token_failure_limit, scope="token-auth",
                                      deduct_when=failed_auth)


def token_required(*roles: str):
    """Authenticate the request by its bearer token; `roles` limits who may call.

    No or a bad token is a 401 and counts against the client address's failed-token
    limit (`token_failures`, applied here so no Bearer route can miss it); a valid token
    of another role is a 403. The user and token are left on `g`, and the token's use is
    noted after the request (`_record_token_use`). Cookies play no part: a
    token-authenticated write cannot be forged cross-site."""
    from functools import wraps

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from .db import utcnow
            from .errors import Forbidden, Unauthorized
            from .users.queries import token_use_due, user_for_token

            token = bearer_token()
            found = user_for_token(_session(), token) if token else None
            if found is None:
                raise Unauthorized(headers={"WWW-Authenticate": 'Bearer realm="api"'})
            g.api_user, g.api_token = found
            if token_use_due(g.api_token, now=utcnow()):
                g.token_used = g.api_token.id
            if roles and g.api_user.role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)
        return token_failures(wrapper)
    return decorate


def _record_token_use(_exc: BaseException | None) -> None:
    """Write the request's token's `last_used_at` once the request's own transaction has
    ended (so this never waits for that transaction's lock), in a transaction of its own.
    It is bookkeeping: a database that refuses it is logged, never the request's failure."""
    token_id = g.pop("token_used", None)
    if token_id is None:
        return
    import logging

    from sqlalchemy.exc import SQLAlchemyError

    from .db import get_engine, session_scope, utcnow
    from .users.services import record_token_use

    try:
        with session_scope(get_engine()) as session:
            record_token_use(session, token_id, now=utcnow())
    except SQLAlchemyError as exc:
        logging.getLogger(__name__).warning("last use of token %s not recorded: %s", token_id,
                                            str(exc).splitlines()[0])


def role_required(*roles: str):
    """Page guard: a signed-in user of one of `roles` (any role when none is given).

    Anonymous visitors are sent to the login page (with a safe `next`); a signed-in user
    of another role gets a 403 page."""
    from functools import wraps

    from flask import abort
    from flask_login import current_user, login_required

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorate


def _session():
    from .db import get_session

    return get_session()


def current_actor() -> Actor:
    """Who is acting in this request, for the services that audit their changes: the
    Bearer token's user and token (`token_required`), else the signed-in browser user,
    else an anonymous visitor."""
    from flask_login import current_user

    user, token = g.get("api_user"), g.get("api_token")
    if user is not None:
        return Actor.api(user, token)
    if _signed_in():
        return Actor.web(current_user.user)
    return Actor.anonymous()
