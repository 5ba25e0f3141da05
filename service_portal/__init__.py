"""Service Portal: find a shop that can fix a Chinese new-energy vehicle abroad."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from flask_compress import Compress
from werkzeug.routing import IntegerConverter

from . import config as settings
from .json_provider import OrjsonProvider

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS_DIR = PROJECT_ROOT / "translations"


class RowIdConverter(IntegerConverter):
    """`<id:name>`: a database row id (1 .. 2**31 - 1); anything else is a 404."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)

#: What is sent compressed: text, whatever its kind (images and XLSX are compressed already).
COMPRESSED_TYPES = ["text/html", "text/css", "text/javascript", "application/javascript",
                    "application/json", "application/problem+json", "image/svg+xml",
                    "text/csv", "text/plain", "application/geo+json"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build an app: defaults, then the environment, then `config`. No I/O beyond reading
    settings; the schema is created by `service-portal init-db`, never here."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.config.update(settings.defaults())
    app.config.update(settings.settings_from_env())
    app.config.update(config or {})
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = settings.default_database_url(app.instance_path)
    if not app.config["SECRET_KEY"]:
        # A throwaway key: sessions die with the process. `serve` refuses to run like this.
        app.config["SECRET_KEY"] = secrets.token_urlsafe(32)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    # Flask ships defaults for these, so they are set unless the caller chose otherwise.
    cookie = config or {}
    app.config["SESSION_COOKIE_HTTPONLY"] = cookie.get("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = cookie.get("SESSION_COOKIE_SAMESITE", "Lax")
    app.config["SESSION_COOKIE_SECURE"] = cookie.get("SESSION_COOKIE_SECURE",
                                                     not app.config["LOCAL_DEMO"])
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.json = OrjsonProvider(app)
    app.json.sort_keys = False
    app.url_map.converters["id"] = RowIdConverter

    from . import db, errors, formats, i18n, names, search, security, static_files
    from .users import auth

    # First registered, so it runs after every other `after_request`: it sees final bodies.
    Compress(app)
    static_files.init_app(app, Path(__file__).parent / "static")
    db.init_app(app)
    search.init_app(app)
    from . import coverage
    coverage.init_app(app)
    i18n.init_app(app, str(TRANSLATIONS_DIR))
    names.init_app(app)
    formats.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)

    from . import openapi
    from .admin import blueprint as admin_area
    from .admin import catalog_views as admin_catalog_views  # noqa: F401  (its routes)
    from .admin import market_views as admin_market_views  # noqa: F401  (its routes)
    from .admin import org_views as admin_org_views  # noqa: F401  (registers its routes)
    from .admin import parts_views as admin_parts_views  # noqa: F401  (its routes)
    from .admin import shop_views as admin_shop_views  # noqa: F401  (registers its routes)
    from .admin import user_views  # noqa: F401  (registers its routes)
    from .admin import wmi_views as admin_wmi_views  # noqa: F401  (its routes)
    from .audit import views as audit_views
    from .bulletins import api as bulletins_api
    from .bulletins import staff_api as bulletins_staff_api
    from .cases import api as cases_api
    from .cases import canned_views as case_canned_views
    from .cases import dealer_views as dealer_case_views
    from .cases import privacy_views as case_privacy_views
    from .cases import queue_views as case_queue_views
    from .cases import staff_api as cases_staff_api
    from .cases import staff_views as staff_case_views
    from .cases import views as case_views
    from .catalog import api as catalog_api
    from .credentials import views as credential_views
    from .home import views as home_views
    from .notifications import api as alerts_api
    from .notifications import settings_views as email_settings_views
    from .notifications import views as notification_views
    from .parts import api as parts_api
    from .parts import dealer_api as dealer_stock_api
    from .parts import dealer_views
    from .shops import api as shops_api
    from .shops import dealer_api as dealer_shops_api
    from .shops import dealer_views as dealer_shop_views
    from .users import account_views
    from .users import views as users_views

    app.register_blueprint(home_views.bp)
    from .parts import views as part_views
    from .shops import views as shop_views

    app.register_blueprint(shop_views.bp)
    app.register_blueprint(part_views.bp)
    app.register_blueprint(shops_api.bp)
    app.register_blueprint(shops_api.search_bp)
    app.register_blueprint(catalog_api.bp)
    app.register_blueprint(bulletins_api.bp)
    from .markets import api as markets_api

    app.register_blueprint(markets_api.bp)
    app.register_blueprint(bulletins_staff_api.bp)
    from .bulletins import staff_views as bulletin_staff_views
    from .bulletins import views as bulletin_views

    app.register_blueprint(bulletin_views.bp)
    app.register_blueprint(bulletin_staff_views.bp)
    app.register_blueprint(cases_api.bp)
    app.register_blueprint(cases_staff_api.bp)
    app.register_blueprint(case_views.bp)
    app.register_blueprint(staff_case_views.bp)
    from .coverage import views as coverage_views
    app.register_blueprint(coverage_views.bp)
    app.register_blueprint(case_queue_views.bp)
    app.register_blueprint(case_canned_views.bp)
    app.register_blueprint(case_privacy_views.bp)
    app.register_blueprint(dealer_case_views.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(parts_api.bp)
    app.register_blueprint(dealer_shops_api.bp)
    app.register_blueprint(dealer_stock_api.bp)
    app.register_blueprint(users_views.bp)
    app.register_blueprint(account_views.bp)
    app.register_blueprint(dealer_views.bp)
    app.register_blueprint(dealer_shop_views.bp)
    app.register_blueprint(admin_area.bp)
    app.register_blueprint(notification_views.bp)
    app.register_blueprint(email_settings_views.bp)
    app.register_blueprint(alerts_api.bp)
    app.register_blueprint(credential_views.bp)
    for blueprint in app.blueprints.values():
        if (blueprint.url_prefix or "").startswith("/api/"):
            security.csrf.exempt(blueprint)  # token-authenticated: no cookie is read
    return app
