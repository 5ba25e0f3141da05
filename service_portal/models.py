"""Every domain's tables, imported in one place for Alembic and `create_all`; nothing else."""

from sqlmodel import SQLModel

from .audit.models import AuditEntry
from .bulletins.models import Bulletin, BulletinCountry, BulletinModel, BulletinText
from .cases.models import CannedReply, Case, CaseBulletin, CaseEvent, SavedFilter
from .catalog.models import Brand, Service, VehicleModel, WmiCode
from .coverage.models import CoverageDay
from .credentials.models import Credential
from .markets.models import Market
from .notifications.models import AlertSubscription, Notification, StaffAlertChoice
from .parts.models import Part, PartFitment, Stock, StockUpload
from .shops.models import (
    Organization,
    Shop,
    ShopBrand,
    ShopLanguage,
    ShopService,
    ShopTakeback,
)
from .users.models import ApiToken, LoginFailure, User, UserSession

metadata = SQLModel.metadata

__all__ = [
    "AlertSubscription", "Notification", "StaffAlertChoice",
    "ApiToken", "AuditEntry", "Brand", "Credential", "Bulletin", "BulletinCountry", "BulletinModel",
    "BulletinText", "CannedReply", "Case", "CaseBulletin", "CaseEvent", "LoginFailure",
    "Organization", "Part", "PartFitment", "SavedFilter", "Service", "Shop", "ShopBrand",
    "ShopLanguage", "ShopService", "Stock", "StockUpload", "User", "UserSession", "VehicleModel",
    "WmiCode",
    "CoverageDay", "ShopTakeback", "Market",
    "metadata",
]
