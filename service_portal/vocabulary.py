"""Translatable names for every code the portal shows: services, levels, powertrains, reasons.

Codes are stable (APIs return them); these labels are what people read, in their
language. Each is a lazy string, so the reader's locale applies when it is rendered.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

SERVICES = {
    "maintenance": _l("Maintenance and inspection"),
    "hv-battery": _l("High-voltage battery diagnosis and repair"),
    "charging-system": _l("Charging system and on-board charger"),
    "software-ota": _l("Software updates"),
    "adas-calibration": _l("ADAS calibration"),
    "body-paint": _l("Body and paint"),
    "tyres": _l("Tyres"),
    "glass": _l("Glass"),
    "recall-work": _l("Recall work"),
    "battery-recycling": _l("Battery recycling"),
    "towing": _l("Towing and recovery"),
}

#: Part categories (`parts.models.PART_CATEGORIES`) as people name them.
PART_CATEGORIES = {
    "brakes": _l("Brakes"),
    "filters": _l("Filters"),
    "electrical": _l("Electrical system"),
    "hv-battery": _l("High-voltage battery"),
    "charging": _l("Charging"),
    "thermal": _l("Heating and cooling"),
    "suspension": _l("Suspension and steering"),
    "body": _l("Body"),
    "glass": _l("Glass"),
    "adas": _l("Driver assistance (ADAS)"),
    "lighting": _l("Lighting"),
    "interior": _l("Interior"),
    "tyres-wheels": _l("Tyres and wheels"),
    "drivetrain": _l("Drivetrain"),
    "service-kit": _l("Service kits"),
}

AUTH_LEVELS = {
    "authorized": _l("Authorised repairer"),
    "partner": _l("Partner workshop"),
    "independent": _l("Independent workshop"),
}

HV_LEVELS = {
    "none": _l("No high-voltage qualification"),
    "1S": _l("High-voltage level 1S (de-energised vehicles)"),
    "2S": _l("High-voltage level 2S (works on de-energised HV systems)"),
    "3S": _l("High-voltage level 3S (works on live HV components)"),
}

POWERTRAINS = {
    "bev": _l("Battery electric"),
    "phev": _l("Plug-in hybrid"),
    "erev": _l("Range-extended electric"),
}

#: Why a shop matched a search (`match_reasons`), in the order they are listed.
MATCH_REASONS = {
    "brand_authorized": _l("Authorised for your brand"),
    "brand_partner": _l("Partner workshop for your brand"),
    "brand_independent": _l("Independent workshop that services your brand"),
    "part_in_stock": _l("Has the part in stock"),
    "successor_in_stock": _l("Has the newer version of the part in stock"),
    "offers_services": _l("Offers the services you need"),
    "speaks_language": _l("Speaks your language"),
    "open_now": _l("Open now"),
    "hv_qualified": _l("Qualified for high-voltage work"),
}

BULLETIN_KINDS = {
    "recall": _l("Recall"),
    "tsb": _l("Technical service bulletin"),
    "software": _l("Software update"),
}

SEVERITIES = {
    "low": _l("Low"),
    "medium": _l("Medium"),
    "high": _l("High"),
    "critical": _l("Critical"),
}

#: Case statuses (CONTRACT section 6) as owners, shops and staff read them.
CASE_STATUSES = {
    "new": _l("New"),
    "triaged": _l("Triaged"),
    "assigned": _l("Assigned to a shop"),
    "in_repair": _l("In repair"),
    "waiting_parts": _l("Waiting for parts"),
    "resolved": _l("Resolved"),
    "closed": lazy_pgettext("case status", "Closed"),
    "reopened": _l("Reopened"),
}

CASE_PRIORITIES = {
    "low": _l("Low"),
    "normal": _l("Normal"),
    "high": _l("High"),
    "urgent": _l("Urgent"),
}

YES_NO = {True: _l("yes"), False: _l("no")}

CASE_EVENTS = {
    "opened": _l("Request received"),
    "changed": _l("Changed"),
    "note": _l("Note"),
    "erased": _l("Personal data erased"),
}

#: Kinds of notification emails, as staff read them on a case page.
MAIL_KINDS = {
    "case_opened": _l("Confirmation to the owner"),
    "case_status": _l("Status change to the owner"),
    "case_note": _l("Reply to the owner"),
    "staff_new_case": _l("New case to staff"),
    "staff_assigned": _l("Assignment to staff"),
    "staff_sla_warning": _l("Due time warning to staff"),
    "credential_reviewed": _l("Evidence reviewed, to the dealer"),
    "credential_expiring": _l("Evidence expiring, to the dealer"),
}

#: Audit log actions as people read them (the log keeps the code; an unknown one shows
#: as itself).
AUDIT_ACTIONS = {
    "stock.adjust": _l("Stock sold or received"),
    "stock.set": _l("Stock quantity set"),
    "stock.put.merge": _l("Stock list sent (merged)"),
    "stock.put.replace": _l("Stock list sent (replacing)"),
    "stock.import": _l("Stock imported from a file"),
    "stock.export": _l("Stock exported"),
    "cases.export": _l("Case queue exported"),
    "shop.profile": _l("Shop profile changed"),
    "shop.create": _l("Shop added"),
    "shop.deactivate": _l("Shop deactivated"),
    "shop.activate": _l("Shop reactivated"),
    "shop.merge": _l("Duplicate shop merged"),
    "stock.merge": _l("Stock moved by a shop merge"),
    "organization.create": _l("Organisation added"),
    "organization.rename": _l("Organisation renamed"),
    "organization.deactivate": _l("Organisation deactivated"),
    "organization.activate": _l("Organisation reactivated"),
    "bulletin.create": _l("Bulletin published"),
    "bulletin.update": _l("Bulletin changed"),
    "token.create": _l("API token created"),
    "token.revoke": _l("API token revoked"),
    "case.view": _l("Case opened by staff or a shop"),
    "privacy.export": _l("Owner's data exported"),
    "privacy.erase": _l("Owner's data erased"),
    "user.password": _l("Password changed"),
    "user.disable": _l("Account disabled"),
    "user.enable": _l("Account enabled"),
    "user.sign_out": _l("Signed out everywhere"),
    "user.emails": _l("Email settings changed"),
    "credential.upload": _l("Evidence uploaded"),
    "credential.verified": _l("Evidence verified"),
    "credential.rejected": _l("Evidence rejected"),
    "user.invite": _l("User invited"),
    "brand.create": _l("Brand added"),
    "brand.update": _l("Brand changed"),
    "model.create": _l("Model added"),
    "model.update": _l("Model changed"),
    "service.create": _l("Service added"),
    "service.update": _l("Service changed"),
    "wmi.create": _l("WMI code added"),
    "wmi.update": _l("WMI code changed"),
    "wmi.delete": _l("WMI code deleted"),
    "parts.import": _l("Parts catalog imported"),
}

#: What an audit entry is about.
AUDIT_RECORDS = {
    "stock": _l("Stock line"),
    "shop": _l("Shop"),
    "organization": _l("Organisation"),
    "import": _l("Import"),
    "bulletin": _l("Bulletin"),
    "case": _l("Case"),
    "owner": _l("Owner"),
    "queue": _l("Case queue"),
    "token": _l("API token"),
    "user": _l("User"),
    "credential": _l("Evidence"),
    "brand": _l("Brand"),
    "model": _l("Model"),
    "service": _l("Service"),
    "wmi": _l("WMI code"),
    "parts": _l("Parts catalog"),
}

#: A piece of evidence's review state.
CREDENTIAL_STATES = {
    "pending": _l("Waiting for review"),
    "verified": _l("Verified"),
    "rejected": _l("Rejected"),
}

#: What a brand authorisation's document is.
BRAND_DOCUMENTS = {
    "contract": _l("Contract with the brand"),
    "certificate": _l("Certificate from the brand"),
}

ROLES = {
    "owner": _l("Owner"),
    "dealer": _l("Dealer"),
    "staff": _l("Support staff"),
    "admin": _l("Administrator"),
}


def label(table: dict, code: str | None) -> str:
    """The reader's name for `code`, or the code itself when it has none."""
    if code is None:
        return ""
    value = table.get(code)
    return str(value) if value is not None else code
