"""Shapes of parts and stock input: rows of the parts and stock files, checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from flask_babel import gettext as _
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from .. import fields
from ..tabular import RowChecker, RowError
from .models import PART_CATEGORIES

PART_COLUMNS = ("part_number", "brand", "name", "category", "superseded_by", "fits")
STOCK_COLUMNS = ("part_number", "qty", "price", "currency")
MAX_QTY = 1_000_000
_PART_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9.\-/]{0,39}")


@dataclass
class PartInput:
    part_number: str
    brand: str
    name: str
    category: str
    superseded_by: str | None
    fits: list[str]


@dataclass(slots=True)
class StockInput:
    row: int
    shop_external_id: str | None
    part_number: str
    qty: int
    price: Decimal
    currency: str


def part_number(value: str) -> str:
    """Part numbers are compared upper-case, without surrounding spaces."""
    text = value.strip().upper()
    if not _PART_NUMBER.fullmatch(text):
        raise ValueError(_("Not a part number (letters, digits, '-', '.', '/'): %(value)s",
                           value=value))
    return text


def parse_part_row(number: int, row: dict[str, str], *,
                   models: dict[str, tuple[int, int]],
                   brands: dict[str, int]) -> tuple[PartInput | None, list[RowError]]:
    """Check one parts row: known brand and category, models of that brand."""
    check = RowChecker(number, row)
    pn = check("part_number", part_number, required=True)
    brand = check("brand", lambda v: _known(v.lower(), brands, _("Unknown brand: %(value)s")),
                  required=True)
    name = check("name", lambda v: fields.single_line_text(v) if len(v) <= 200
                 else _too_long(200), required=True)
    category = check("category", lambda v: _known(
        v.lower(), PART_CATEGORIES, _("Unknown part category: %(value)s")), required=True)
    successor = check("superseded_by", part_number)
    fits = check("fits", lambda v: _fitment(v, models, brands.get(brand or ""))) or []
    if pn and successor == pn:
        check.add("superseded_by", _("A part cannot supersede itself."))
    if check.errors:
        return None, check.errors
    return PartInput(pn, brand, name, category, successor, fits), []


def parse_stock_row(number: int, row: dict[str, str], *,
                    shop_column: bool) -> tuple[StockInput | None, list[RowError]]:
    """Check one stock row: qty a plain whole number, price an amount, ISO currency.

    A good row is parsed by the very checks below without RowChecker's bookkeeping (a
    million-row import spends most of its time here); any problem at all sends the row
    through RowChecker, which then names every bad cell. Empty cells fail those checks too,
    so both ways accept exactly the same rows and yield the same values."""
    try:
        shop = row["shop_external_id"].strip() if shop_column else None
        if shop_column and not shop:
            raise ValueError
        return StockInput(number, shop, part_number(row["part_number"]), _qty(row["qty"]),
                          fields.decimal_amount(row["price"]),
                          fields.currency(row["currency"])), []
    except (KeyError, AttributeError, ValueError):
        pass
    check = RowChecker(number, row)
    shop = check("shop_external_id", str, required=True) if shop_column else None
    pn = check("part_number", part_number, required=True)
    qty = check("qty", _qty, required=True)
    price = check("price", fields.decimal_amount, required=True)
    currency = check("currency", fields.currency, required=True)
    if check.errors:
        return None, check.errors
    return StockInput(number, shop, pn, qty, price, currency), []


def _qty(value: str) -> int:
    qty = fields.whole_number(value)
    if qty > MAX_QTY:
        raise ValueError(_("At most %(max)s.", max=MAX_QTY))
    return qty


def _known(value: str, known, message: str) -> str:
    if value not in known:
        raise ValueError(message % {"value": value})
    return value


def _too_long(limit: int):
    raise ValueError(_("At most %(limit)s characters.", limit=limit))


def _fitment(value: str, models: dict[str, tuple[int, int]], brand_id: int | None) -> list[str]:
    slugs = list(dict.fromkeys(s.strip().lower() for s in value.split(";") if s.strip()))
    for slug in slugs:
        if slug not in models:
            raise ValueError(_("Unknown model: %(value)s", value=slug))
        if brand_id is not None and models[slug][1] != brand_id:
            raise ValueError(_("Model %(model)s is not of this part's brand.", model=slug))
    return slugs


class StockItemIn(BaseModel):
    """One stock line in a JSON body: qty a plain whole number, price an amount."""

    model_config = ConfigDict(extra="forbid")

    part_number: StrictStr
    qty: StrictInt = Field(ge=0, le=MAX_QTY)
    price: StrictStr | StrictInt | StrictFloat
    currency: StrictStr

    @field_validator("part_number")
    @classmethod
    def _part_number(cls, value: str) -> str:
        return part_number(value)

    @field_validator("price")
    @classmethod
    def _price(cls, value) -> Decimal:
        return fields.decimal_amount(str(value))

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return fields.currency(value)


class StockPutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[StockItemIn] = Field(max_length=10_000)
    mode: Literal["merge", "replace"] = "merge"


class StockPatchIn(BaseModel):
    """Either `qty_delta` (atomic, refused below zero) or `qty` with the `version` read."""

    model_config = ConfigDict(extra="forbid")

    qty_delta: StrictInt | None = Field(default=None, ge=-MAX_QTY, le=MAX_QTY)
    qty: StrictInt | None = Field(default=None, ge=0, le=MAX_QTY)
    version: StrictInt | None = Field(default=None, ge=1)
    min_qty: StrictInt | None = Field(default=None, ge=0, le=MAX_QTY)

    @model_validator(mode="after")
    def _one_kind(self) -> StockPatchIn:
        if self.qty_delta is not None and (self.qty is not None or self.version is not None):
            raise ValueError("send qty_delta, or qty with version, not both")
        if (self.qty is None) != (self.version is None) and self.qty_delta is None:
            raise ValueError("qty needs the version it was read at")
        if self.qty_delta is None and self.qty is None and self.min_qty is None:
            raise ValueError("nothing to change")
        return self
