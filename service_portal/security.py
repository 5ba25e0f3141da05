"""Security baseline for every response (CONTRACT section 10): headers and CSP nonces."""

from __future__ import annotations

import secrets

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

#: Rate limits (CONTRACT section 10); counters live where RATELIMIT_STORAGE_URI says, so
#: several workers and hosts share them through Redis.
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
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


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    limiter.init_app(app)
    csrf.init_app(app)

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
        if _signed_in() or g.get("api_user") is not None or g.get("personal_data"):
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        return response


# --- Passwords and tokens -------------------------------------------------------------

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
TOKEN_PREFIX = "spt_"


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    if not password_hash:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


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


def token_required(*roles: str):
    """Authenticate the request by its bearer token; `roles` limits who may call.

    No or a bad token is a 401 (and counts against the client's failed-attempt limit);
    a valid token of another role is a 403. The user and token are left on `g`.
    Cookies play no part: a token-authenticated write cannot be forged cross-site."""
    from functools import wraps

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            from .errors import Forbidden, Unauthorized
            from .users.queries import user_for_token

            token = bearer_token()
            found = user_for_token(_session(), token) if token else None
            if found is None:
                raise Unauthorized(headers={"WWW-Authenticate": 'Bearer realm="api"'})
            g.api_user, g.api_token = found
            if roles and g.api_user.role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)
        return wrapper
    return decorate


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


def actor_label() -> str:
    """Who is acting, for audit entries: the user and how they came (token name)."""
    user, token = g.get("api_user"), g.get("api_token")
    if user is None:
        return "anonymous"
    return f"{user.email} (token {token.name})" if token is not None else user.email
