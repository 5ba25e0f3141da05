"""Reads about parts: one part with its supersession chain and the models it fits."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from ..catalog.models import Brand, VehicleModel
from .models import Part, PartFitment


def part_document(session: Session, part_number: str) -> dict | None:
    """The part as the API shows it, or None. `chain` runs from the oldest part this one
    replaced to the newest that replaces it; `current` is the one to order today."""
    row = session.execute(select(Part, Brand.slug).join(Brand, Brand.id == Part.brand_id)
                          .where(Part.part_number == part_number)).first()
    if row is None:
        return None
    part, brand = row
    chain = _chain(session, part)
    fits = session.scalars(select(VehicleModel.slug)
                           .join(PartFitment, PartFitment.model_id == VehicleModel.id)
                           .where(PartFitment.part_id == part.id)
                           .order_by(VehicleModel.slug)).all()
    successor = chain[chain.index(part.part_number) + 1] \
        if chain[-1] != part.part_number else None
    return {"part_number": part.part_number, "brand": brand, "name": part.name,
            "category": part.category, "superseded_by": successor, "chain": chain,
            "current": chain[-1], "fits": list(fits)}


def _chain(session: Session, part: Part) -> list[str]:
    """Part numbers of the whole supersession chain through `part`, oldest first.

    Chains are short (imports refuse cycles), so a query per link is fine; the `seen`
    guard still stops on a cycle written to the database by other means."""
    older: list[str] = []
    seen = {part.id}
    current = part
    while True:
        previous = session.scalars(select(Part).where(Part.superseded_by_id == current.id)
                                .order_by(Part.part_number)).first()
        if previous is None or previous.id in seen:
            break
        seen.add(previous.id)
        older.insert(0, previous.part_number)
        current = previous
    newer: list[str] = []
    current = part
    while current.superseded_by_id is not None and current.superseded_by_id not in seen:
        seen.add(current.superseded_by_id)
        current = session.get(Part, current.superseded_by_id)
        newer.append(current.part_number)
    return [*older, part.part_number, *newer]


def shop_stock(session: Session, shop_id: int, *, search: str = "",
               low_only: bool = False) -> list[dict]:
    """A shop's stock lines (CONTRACT section 5), by part number; `search` matches part
    numbers and names, `low_only` keeps lines at or below their minimum."""
    from .models import Stock

    query = (select(Part.part_number, Part.name, Stock.qty, Stock.price, Stock.currency,
                    Stock.min_qty, Stock.version, Stock.updated_at)
             .join(Part, Part.id == Stock.part_id).where(Stock.shop_id == shop_id)
             .order_by(Part.part_number))
    if search:
        pattern = f"%{search.replace('%', '').replace('_', '')}%"
        query = query.where(Part.part_number.ilike(pattern) | Part.name.ilike(pattern))
    if low_only:
        query = query.where(Stock.qty <= Stock.min_qty)
    return [{"part_number": r.part_number, "name": r.name, "qty": r.qty,
             "price": money(r.price), "currency": r.currency, "min_qty": r.min_qty,
             "version": r.version, "updated_at": r.updated_at.isoformat()}
            for r in session.execute(query).all()]


def money(value) -> str | None:
    """Prices leave as decimal strings ("49.90"), never binary floats."""
    from decimal import Decimal

    if value is None:
        return None
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"
