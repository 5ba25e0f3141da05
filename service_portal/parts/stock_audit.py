"""The stock's audit trail: one entry per changed line (entity `stock`, id `shop:part`),
with the line's state before and after; written in bulk for PUTs and imports."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from ..audit.actors import Actor
from ..audit.services import json_object_sql, record_many, record_selected

ENTITY = "stock"


def stock_entity_id(shop_id: int, part_number: str) -> str:
    """How audit entries name one shop's stock line of one part (the history page's key)."""
    return f"{shop_id}:{part_number}"


def line_state(qty: int, price: Decimal | float | None, currency: str | None,
               version: int) -> dict[str, Any]:
    """A line as an entry's before or after; the price as a decimal string ("10.50")."""
    return {"qty": qty, "price": None if price is None else f"{Decimal(str(price)):.2f}",
            "currency": currency, "version": version}


def record_lines(session: Session, *, actor: Actor, action: str,
                 changes: Iterable[tuple[int, str, dict | None, dict | None]]) -> int:
    """One entry per (shop id, part number, before, after); None for a line that did not
    exist before or does not after. One insert for all of them."""
    return record_many(session, actor=actor, action=action, entity_type=ENTITY,
                       changes=[(stock_entity_id(shop_id, number), before, after)
                                for shop_id, number, before, after in changes])


def record_staged_changes(session: Session, *, actor: Actor, action: str,
                          stage: str) -> tuple[int, int]:
    """Before the staged rows of the temporary table `stage` are merged into `stock`:
    one entry per line they will create or change, built by the database (no row passes
    through Python). Returns (lines new, lines changed), which the merge must match.

    The lines to change are locked first (PostgreSQL `FOR UPDATE`; SQLite's write lock is
    held already), so each before is the value the merge replaces."""
    connection = session.connection()
    dialect = connection.dialect.name
    differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    changed = " OR ".join(f"s.{c} {differs} i.{c}" for c in ("qty", "price", "currency"))
    if dialect != "sqlite":
        connection.exec_driver_sql(
            f"SELECT s.id FROM stock s JOIN {stage} i ON s.shop_id = i.shop_id "
            f"AND s.part_id = i.part_id WHERE {changed} ORDER BY s.id FOR UPDATE OF s")
    price = ("CASE WHEN {0}.price IS NULL THEN NULL ELSE printf('%.2f', {0}.price) END"
             if dialect == "sqlite" else "CAST({0}.price AS TEXT)")

    def state(alias: str, version: str) -> str:
        return json_object_sql(dialect, {"qty": f"{alias}.qty", "price": price.format(alias),
                                         "currency": f"{alias}.currency", "version": version})

    entity = "CAST(i.shop_id AS TEXT) || ':' || p.part_number"
    lines = (f"FROM {stage} i JOIN parts p ON p.id = i.part_id LEFT JOIN stock s "
             "ON s.shop_id = i.shop_id AND s.part_id = i.part_id")
    new = record_selected(session, actor=actor, action=action, entity_type=ENTITY,
                          select_sql=f"SELECT {entity} AS entity_id, CAST(NULL AS JSON) AS before, "
                                     f"{state('i', '1')} AS after {lines} WHERE s.id IS NULL")
    updated = record_selected(
        session, actor=actor, action=action, entity_type=ENTITY,
        select_sql=f"SELECT {entity} AS entity_id, {state('s', 's.version')} AS before, "
                   f"{state('i', 's.version + 1')} AS after {lines} "
                   f"WHERE s.id IS NOT NULL AND ({changed})")
    return new, updated
