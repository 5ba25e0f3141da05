"""Decoding a VIN into what the portal needs: brand, model year and, where known, model."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vininfo import Vin
from vininfo.exceptions import ValidationError

from ..reference import shipped_wmi_table

#: 17 characters, digits and capitals without I, O and Q (ISO 3779).
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
#: What `decode_vin` takes as valid before stripping and upper-casing (for the API description).
VIN_INPUT_PATTERN = r"^\s*[A-HJ-NPR-Za-hj-npr-z0-9]{17}\s*$"

#: vininfo's manufacturer names -> our brand slugs. Each of these manufacturers builds exactly
#: one brand of our catalog (CONTRACT section 3), so its WMI names that brand.
_MANUFACTURER_BRANDS: dict[str, tuple[str, ...]] = {
    "BYD Auto": ("byd",),
    "BYD Bus": ("byd",),
    "SAIC MG": ("mg",),
    "Great Wall (Havel)": ("gwm-ora",),
    "Chery": ("omoda",),
    "Geely": ("geely",),
}

#: A WMI table: code -> the brand slugs it names (the `wmi_codes` rows, or the shipped
#: `reference/wmi.csv` with each row's public source). A code in the table overrides
#: vininfo; an empty tuple names no brand of ours. Codes no public source attributes are
#: left out on purpose (see `reference/README.md`): a guessed WMI would send owners to
#: another brand's bulletins.
WmiTable = Mapping[str, Sequence[str]]

#: (brand, WMIs, pattern over the VDS, positions 4-9) -> model slug. Only patterns a public
#: source documents: the model patterns of NHTSA vPIC (release 2026-10), positions 7-8.
_MODEL_PATTERNS: tuple[tuple[str, frozenset[str], re.Pattern[str], str], ...] = (
    ("polestar", frozenset({"LPS", "YSM"}), re.compile(r"...KA."), "polestar-2"),
    ("polestar", frozenset({"YSR", "7SY"}), re.compile(r"...Y[B3P]."), "polestar-3"),
    ("polestar", frozenset({"YSR", "7SY"}), re.compile(r"...A[4CDS]."), "polestar-4"),
)


@dataclass(frozen=True)
class ModelRow:
    """What decoding needs to know of one catalog model."""

    brand: str
    model: str
    year_from: int
    year_to: int | None = None


@dataclass(frozen=True)
class VinInfo:
    """A decoded VIN (CONTRACT section 4, `GET /api/v1/vin/<vin>`)."""

    vin: str
    valid: bool
    checksum_ok: bool
    wmi: str | None
    brand: str | None
    model_year: int | None
    model: str | None
    #: The brands of ours the WMI may stand for: one (then `brand`), several when a group
    #: shares the code (the model must tell), or none.
    brands: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "brands": list(self.brands)}


def normalise_vin(text: str) -> str:
    """The VIN as it is compared: stripped and upper-cased."""
    return text.strip().upper()


def decode_vin(text: str, models: list[ModelRow] | None = None,
               wmis: WmiTable | None = None) -> VinInfo:
    """Decode `text` as a VIN.

    Not 17 characters of A-Z/0-9 without I, O, Q (after stripping and upper-casing) is
    `valid=False` with nothing decoded. The check digit (position 9) is reported as
    `checksum_ok` but never refuses a VIN: it is mandatory only in North America and China.
    The brand comes from the WMI when exactly one brand of ours goes with it: by the
    `wmis` table (the database's; by default the shipped reference table), else by
    vininfo's manufacturer. The model
    year is the 30-year cycle of position 10 that falls within the years of the brand's (or
    the model's) catalog `models`, the most recent first; the model is set only where a
    documented VDS pattern names it and, when `models` is given, the catalog has it.
    """
    vin = normalise_vin(text)
    if not _VIN.fullmatch(vin):
        return VinInfo(vin=vin, valid=False, checksum_ok=False, wmi=None, brand=None,
                       model_year=None, model=None)
    try:
        decoded = Vin(vin)
    except ValidationError:  # pragma: no cover - the pattern above is vininfo's own
        return VinInfo(vin=vin, valid=False, checksum_ok=False, wmi=None, brand=None,
                       model_year=None, model=None)
    wmi = decoded.wmi
    brands = _brands_of(wmi, decoded.manufacturer, shipped_wmi_table() if wmis is None else wmis)
    brand = brands[0] if len(brands) == 1 else None
    model = _model_of(brand, wmi, decoded.vds, models)
    return VinInfo(vin=vin, valid=True, checksum_ok=decoded.verify_checksum(check_year=False),
                   wmi=wmi, brand=brand, model_year=_model_year(decoded.years, brand, model,
                                                                models),
                   model=model, brands=brands)


def _brands_of(wmi: str, manufacturer: str | None, wmis: WmiTable) -> tuple[str, ...]:
    """The table's brands for the code, else those of vininfo's manufacturer."""
    if wmi in wmis:
        return tuple(wmis[wmi])
    return _MANUFACTURER_BRANDS.get(manufacturer or "", ())


def _model_of(brand: str | None, wmi: str, vds: str, models: list[ModelRow] | None) -> str | None:
    for pattern_brand, wmis, pattern, slug in _MODEL_PATTERNS:
        if pattern_brand == brand and wmi in wmis and pattern.fullmatch(vds):
            if models is not None and slug not in {m.model for m in models}:
                return None
            return slug
    return None


def _model_year(candidates: list[int], brand: str | None, model: str | None,
                models: list[ModelRow] | None) -> int | None:
    """The most recent cycle year within the catalog years of the model, else of the brand,
    else simply the most recent one (vininfo lists none past next year)."""
    if not candidates:
        return None
    latest = max(candidates)
    rows = [m for m in models or () if m.model == model] or \
        [m for m in models or () if m.brand == brand]
    if rows:
        fitting = [y for y in candidates
                   if any(r.year_from <= y <= (r.year_to or latest) for r in rows)]
        if fitting:
            return max(fitting)
    return latest
