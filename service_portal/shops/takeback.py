"""Battery take-back points: what a shop offering `battery-recycling` takes back, stated by
its dealer (or the demo data), audited, and read by the search through the change feed."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlmodel import Session

from .. import fields
from ..audit.actors import Actor
from ..audit.services import record
from ..catalog.models import VehicleModel
from ..db import utcnow
from ..errors import Invalid
from .models import Shop, ShopTakeback

#: The heaviest pack a take-back point may state, kg (a bus pack weighs about 3 t).
MAX_WEIGHT_KG = 5000
MAX_SCHEME_CHARS = 200
#: EU and EEA members: Regulation (EU) 2023/1542 gives their owners free take-back of
#: waste batteries (EEA: as incorporated into the EEA Agreement).
EU_EEA = frozenset((
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"))


#: Battery chemistries by code, as owners and dealers read them.
CHEMISTRY_NAMES = {
    "lfp": _l("LFP (lithium iron phosphate)"),
    "lmfp": _l("LMFP (lithium manganese iron phosphate)"),
    "nmc": _l("NMC (nickel manganese cobalt)"),
    "nca": _l("NCA (nickel cobalt aluminium)"),
    "sodium-ion": _l("Sodium-ion"),
}


def chemistry_name(code: str) -> str:
    """A chemistry code in words (an unknown code in capitals)."""
    name = CHEMISTRY_NAMES.get(code)
    return str(name) if name is not None else code.upper()


def known_chemistries(session: Session) -> list[str]:
    """The battery chemistry codes of the vehicle catalog (`lfp`, `nmc`, ...), sorted."""
    return sorted(set(session.scalars(select(VehicleModel.battery_chemistry).distinct())))


def takeback_of(session: Session, shop_id: int) -> dict[str, Any] | None:
    """What the shop takes back, as `set_takeback` takes it, or None when never stated."""
    row = session.get(ShopTakeback, shop_id)
    return None if row is None else _plain(row)


def set_takeback(session: Session, shop: Shop, *, chemistries: list[str], damaged: bool,
                 max_weight_kg: int | None, free: bool, scheme: str | None,
                 actor: Actor) -> bool:
    """State what `shop` takes back. Chemistries must be the catalog's, the weight a whole
    number of kg from 1 to MAX_WEIGHT_KG (or none: any weight), the scheme one line.
    Writes and audits only a change; returns whether there was one. The shop's stamp
    moves with the row (migration 0015), so every search index sees it at once."""
    known = set(known_chemistries(session))
    unknown = sorted(set(chemistries) - known)
    if unknown:
        raise Invalid(_("Unknown battery chemistry: %(value)s", value=", ".join(unknown)),
                      field="chemistries")
    if max_weight_kg is not None and not 1 <= max_weight_kg <= MAX_WEIGHT_KG:
        raise Invalid(_("The maximum weight must be a whole number of kg from 1 to "
                        "%(max)s.", max=MAX_WEIGHT_KG), field="max_weight_kg")
    scheme = (scheme or "").strip()
    try:
        fields.single_line_text(scheme)
    except ValueError as exc:
        raise Invalid(str(exc), field="scheme") from None
    if len(scheme) > MAX_SCHEME_CHARS:
        raise Invalid(_("At most %(max)s characters.", max=MAX_SCHEME_CHARS), field="scheme")
    after = {"chemistries": sorted(set(chemistries)), "damaged": bool(damaged),
             "max_weight_kg": max_weight_kg, "free": bool(free), "scheme": scheme}
    row = session.get(ShopTakeback, shop.id)
    before = None if row is None else _plain(row)
    if before == after:
        return False
    if row is None:
        row = ShopTakeback(shop_id=shop.id)
        session.add(row)
    row.chemistries = ";".join(after["chemistries"])
    row.damaged, row.max_weight_kg, row.free = after["damaged"], max_weight_kg, after["free"]
    row.scheme, row.updated_at = scheme, utcnow()
    session.flush()
    record(session, actor=actor, action="shop.takeback", entity_type="shop", entity_id=shop.id,
           before=before, after=after)
    return True


def load_takeback(session: Session, rows: list[dict[str, str]], *,
                  actor: Actor) -> dict[str, int]:
    """Seed rows `external_id,chemistries,damaged,max_weight_kg,free,scheme` (lists
    `;`-separated, yes/no flags): set each shop's take-back; a shop not found is an error
    naming its row. Idempotent: an unchanged row writes nothing."""
    shops = {s.external_id: s for s in session.scalars(
        select(Shop).where(Shop.external_id.in_([r["external_id"] for r in rows])))}
    created = updated = 0
    for number, row in enumerate(rows, start=2):
        shop = shops.get(row["external_id"])
        if shop is None:
            raise Invalid(_("Unknown shop: %(value)s", value=row["external_id"]),
                          field="external_id", details=[number])
        existed = session.get(ShopTakeback, shop.id) is not None
        weight = row.get("max_weight_kg", "").strip()
        changed = set_takeback(
            session, shop, actor=actor,
            chemistries=[c.strip() for c in row["chemistries"].split(";") if c.strip()],
            damaged=_yes(row["damaged"]), free=_yes(row["free"]),
            max_weight_kg=int(weight) if weight else None, scheme=row.get("scheme"))
        if changed:
            updated += existed
            created += not existed
    return {"created": created, "updated": updated}


def takeback_form_data(takeback: dict[str, Any] | None) -> dict[str, Any]:
    """The profile form's take-back fields for what a shop stated (free by default)."""
    if takeback is None:
        return {"takes_free": True}
    return {"takes_chemistries": takeback["chemistries"], "takes_damaged": takeback["damaged"],
            "takes_max_weight_kg": takeback["max_weight_kg"], "takes_free": takeback["free"],
            "takes_scheme": takeback["scheme"]}


def _yes(value: str) -> bool:
    return value.strip().lower() in ("yes", "true", "1")


def _plain(row: ShopTakeback) -> dict[str, Any]:
    return {"chemistries": [c for c in row.chemistries.split(";") if c],
            "damaged": bool(row.damaged), "max_weight_kg": row.max_weight_kg,
            "free": bool(row.free), "scheme": row.scheme}
