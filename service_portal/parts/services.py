"""Writing parts and stock: the all-or-nothing imports and supersession rules."""

from __future__ import annotations

from collections import Counter

from flask_babel import gettext as _
from sqlalchemy import and_, delete, insert, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from ..catalog.services import brand_ids, model_index
from ..db import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..shops.models import Shop
from ..tabular import ImportFailed, RowError, Table, require_columns
from .models import Part, PartFitment, Stock
from .schemas import (
    PART_COLUMNS,
    STOCK_COLUMNS,
    PartInput,
    StockInput,
    parse_part_row,
    parse_stock_row,
)


def find_cycle(successors: dict[str, str | None]) -> list[str] | None:
    """A supersession cycle (A -> B -> A) in `successors`, or None."""
    done: set[str] = set()
    for start in successors:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in done:
            if node in on_path:
                return path[path.index(node):] + [node]
            on_path.add(node)
            path.append(node)
            node = successors.get(node)
        done.update(path)
    return None


def import_parts(session: Session, table: Table) -> dict[str, int]:
    """Create or update the parts of `table` (matched on part_number), or none of them.

    A successor must be in the file or the catalog, and the chains must stay acyclic."""
    require_columns(table, PART_COLUMNS)
    brands, models = brand_ids(session), model_index(session)
    parts: list[tuple[int, PartInput]] = []
    errors: list[RowError] = []
    first_row: dict[str, int] = {}
    for number, row in table.rows:
        part, row_errors = parse_part_row(number, row, models=models, brands=brands)
        errors.extend(row_errors)
        if part is None:
            continue
        if part.part_number in first_row:
            errors.append(RowError(number, "part_number", _(
                "Duplicate part number; first seen in row %(row)s.",
                row=first_row[part.part_number])))
            continue
        first_row[part.part_number] = number
        parts.append((number, part))
    catalog = {pn: (pid, succ) for pn, pid, succ in session.exec(
        select(Part.part_number, Part.id, Part.superseded_by_id)).all()}
    by_id = {pid: pn for pn, (pid, _s) in catalog.items()}
    successors = {pn: by_id.get(succ) for pn, (_pid, succ) in catalog.items()}
    for number, part in parts:
        if part.superseded_by and part.superseded_by not in first_row \
                and part.superseded_by not in catalog:
            errors.append(RowError(number, "superseded_by", _(
                "Unknown successor part: %(value)s", value=part.superseded_by)))
        successors[part.part_number] = part.superseded_by
    cycle = None if errors else find_cycle(successors)
    if cycle:
        errors.append(RowError(first_row.get(cycle[0], 0), "superseded_by", _(
            "Supersession cycle: %(chain)s", chain=" → ".join(cycle))))
    if errors:
        raise ImportFailed(errors)
    return _write_parts(session, [p for _n, p in parts], brands, models)


def _write_parts(session: Session, parts: list[PartInput], brands: dict[str, int],
                 models: dict[str, tuple[int, int]]) -> dict[str, int]:
    existing = {p.part_number: p for p in session.exec(
        select(Part).where(Part.part_number.in_([p.part_number for p in parts])))}
    created = updated = 0
    rows: dict[str, Part] = {}
    changed: set[str] = set()
    for item in parts:
        values = {"brand_id": brands[item.brand], "name": item.name, "category": item.category}
        row = existing.get(item.part_number)
        if row is None:
            row = Part(part_number=item.part_number, **values)
            session.add(row)
            created += 1
        else:
            diff = {k: v for k, v in values.items() if getattr(row, k) != v}
            for k, v in diff.items():
                setattr(row, k, v)
            if diff:
                changed.add(item.part_number)
        rows[item.part_number] = row
    session.flush()
    successor_ids = dict(session.exec(select(Part.part_number, Part.id).where(
        Part.part_number.in_([p.superseded_by for p in parts if p.superseded_by]))).all())
    fitted = _fitments(session, [r.id for r in rows.values()])
    refit: dict[int, set[int]] = {}
    for item in parts:
        row = rows[item.part_number]
        successor = successor_ids.get(item.superseded_by) if item.superseded_by else None
        if row.superseded_by_id != successor:
            row.superseded_by_id = successor
            changed.add(item.part_number)
        want = {models[slug][0] for slug in item.fits}
        if want != fitted.get(row.id, set()):
            refit[row.id] = want
            changed.add(item.part_number)
    if refit:
        session.execute(delete(PartFitment).where(PartFitment.part_id.in_(refit)))
        session.execute(insert(PartFitment), [{"part_id": p, "model_id": m}
                                              for p, models_ in refit.items() for m in models_])
    updated = len(changed - {p.part_number for p in parts if p.part_number not in existing})
    session.flush()
    return {"created": created, "updated": updated,
            "unchanged": len(parts) - created - updated}


def _fitments(session: Session, part_ids: list[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for part_id, model_id in session.exec(select(PartFitment.part_id, PartFitment.model_id)
                                          .where(PartFitment.part_id.in_(part_ids))).all():
        out.setdefault(part_id, set()).add(model_id)
    return out


def validate_stock(session: Session, table: Table, *, shop_external_id: str | None = None,
                   organization_id: int | None = None) -> list[tuple[int, int, StockInput]]:
    """Every stock row checked; returns (shop id, part id, row) or raises ImportFailed.

    With `shop_external_id` every row belongs to that shop; otherwise the file names the
    shop of each row in `shop_external_id`. With `organization_id`, only that
    organisation's shops exist (others are reported as unknown, as if absent)."""
    require_columns(table, STOCK_COLUMNS if shop_external_id
                    else (*STOCK_COLUMNS, "shop_external_id"))
    if shop_external_id is not None and not _shop_ids(session, {shop_external_id},
                                                       organization_id):
        raise NotFound(_("Unknown shop: %(value)s", value=shop_external_id), field="shop")
    items: list[tuple[int, int, StockInput]] = []
    errors: list[RowError] = []
    parsed: list[StockInput] = []
    for number, row in table.rows:
        item, row_errors = parse_stock_row(number, row, shop_column=shop_external_id is None)
        errors.extend(row_errors)
        if item is not None:
            if shop_external_id is not None:
                named = (row.get("shop_external_id") or "").strip()
                if named and named != shop_external_id:
                    errors.append(RowError(number, "shop_external_id", _(
                        "This row names another shop than %(shop)s.", shop=shop_external_id)))
                    continue
                item.shop_external_id = shop_external_id
            parsed.append(item)
    parts = dict(session.exec(select(Part.part_number, Part.id).where(
        Part.part_number.in_({i.part_number for i in parsed}))).all())
    shops = _shop_ids(session, {i.shop_external_id for i in parsed}, organization_id)
    seen: dict[tuple[str, str], int] = {}
    for item in parsed:
        shop_id = shops.get(item.shop_external_id)
        if shop_id is None:
            errors.append(RowError(item.row, "shop_external_id",
                                   _("Unknown shop: %(value)s", value=item.shop_external_id)))
            continue
        if item.part_number not in parts:
            errors.append(RowError(item.row, "part_number", _(
                "Unknown part number: %(value)s", value=item.part_number)))
            continue
        key = (item.shop_external_id, item.part_number)
        if key in seen:
            errors.append(RowError(item.row, "part_number", _(
                "Duplicate part for this shop; first seen in row %(row)s.", row=seen[key])))
            continue
        seen[key] = item.row
        items.append((shop_id, parts[item.part_number], item))
    if errors:
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    return items


def import_stock(session: Session, table: Table, *, shop_external_id: str | None = None,
                 replace: bool = False, dry_run: bool = False,
                 organization_id: int | None = None) -> dict[str, int]:
    """Load stock rows, all or nothing; returns counts of created, updated, deleted rows.

    `replace` removes the stock of the named shops that the file does not list. A changed
    row gets `version + 1`; an unchanged row is not touched."""
    items = validate_stock(session, table, shop_external_id=shop_external_id,
                           organization_id=organization_id)
    shop_ids = {shop_id for shop_id, _p, _i in items}
    if shop_external_id is not None:
        shop_ids.update(_shop_ids(session, {shop_external_id}, organization_id).values())
    return apply_stock(session, [(s, p, i.qty, i.price, i.currency) for s, p, i in items],
                       shop_ids=shop_ids, replace=replace, dry_run=dry_run)


def apply_stock(session: Session, rows: list[tuple], *, shop_ids: set[int],
                replace: bool = False, dry_run: bool = False) -> dict[str, int]:
    """Write (shop id, part id, qty, price, currency) rows with one upsert statement."""
    current = {(s, p): (q, pr, c) for s, p, q, pr, c in session.exec(
        select(Stock.shop_id, Stock.part_id, Stock.qty, Stock.price, Stock.currency)
        .where(Stock.shop_id.in_(shop_ids))).all()} if shop_ids else {}
    kinds = Counter("created" if (s, p) not in current
                    else "unchanged" if current[(s, p)] == (q, pr, c) else "updated"
                    for s, p, q, pr, c in rows)
    listed = {(s, p) for s, p, *_rest in rows}
    stale = [key for key in current if key not in listed] if replace else []
    counts = {"created": kinds["created"], "updated": kinds["updated"],
              "deleted": len(stale), "unchanged": kinds["unchanged"]}
    if dry_run:
        return counts
    changed = [r for r in rows if current.get((r[0], r[1])) != (r[2], r[3], r[4])]
    if changed:
        now = utcnow()
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(Stock)
        stmt = stmt.on_conflict_do_update(
            index_elements=["shop_id", "part_id"],
            set_={"qty": stmt.excluded.qty, "price": stmt.excluded.price,
                  "currency": stmt.excluded.currency, "updated_at": stmt.excluded.updated_at,
                  "version": Stock.version + 1},
        )
        session.execute(stmt, [
            {"shop_id": s, "part_id": p, "qty": q, "price": pr, "currency": c, "min_qty": 0,
             "version": 1, "updated_at": now} for s, p, q, pr, c in changed])
    for chunk in _chunks(stale, 500):
        session.execute(delete(Stock).where(or_(*(
            and_(Stock.shop_id == s, Stock.part_id == p) for s, p in chunk))))
    session.flush()
    return counts


def _shop_ids(session: Session, external_ids: set[str],
              organization_id: int | None) -> dict[str, int]:
    """External id -> id for the named shops (of one organisation, when given)."""
    query = select(Shop.external_id, Shop.id).where(Shop.external_id.in_(external_ids))
    if organization_id is not None:
        query = query.where(Shop.organization_id == organization_id)
    return dict(session.exec(query).all())


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def adjust_stock(session: Session, *, shop_id: int, part_number: str, delta: int,
                 actor: str) -> Stock:
    """Add `delta` to the stock in one atomic `UPDATE ... WHERE qty + delta >= 0`, so
    concurrent writers never lose an update; 409 `insufficient_stock` below zero."""
    from ..audit.services import record

    part_id = _part_id(session, part_number)
    row = session.execute(
        update(Stock)
        .where(Stock.shop_id == shop_id, Stock.part_id == part_id, Stock.qty + delta >= 0)
        .values(qty=Stock.qty + delta, version=Stock.version + 1, updated_at=utcnow())
        .returning(Stock.qty, Stock.version)).first()
    if row is None:
        if _stock_row(session, shop_id, part_id) is None:
            raise NotFound(_("This shop has no stock line for %(part)s.", part=part_number))
        raise Conflict(_("Not enough in stock for this change."), code="insufficient_stock",
                       field="qty_delta")
    record(session, actor_label=actor, action="stock.adjust", entity_type="stock",
           entity_id=f"{shop_id}:{part_number}", before={"qty": row.qty - delta},
           after={"qty": row.qty, "version": row.version})
    return _stock_row(session, shop_id, part_id)


def set_stock(session: Session, *, shop_id: int, part_number: str, qty: int | None,
              version: int | None, min_qty: int | None, actor: str) -> Stock:
    """Set `qty` only if the row is still at `version` (optimistic: 409 when another write
    came first); `min_qty` (the low-stock threshold) needs no version."""
    from ..audit.services import record

    part_id = _part_id(session, part_number)
    before = _stock_row(session, shop_id, part_id)
    if before is None:
        raise NotFound(_("This shop has no stock line for %(part)s.", part=part_number))
    values: dict = {"updated_at": utcnow(), "version": Stock.version + 1}
    condition = [Stock.shop_id == shop_id, Stock.part_id == part_id]
    if qty is not None:
        values["qty"] = qty
        condition.append(Stock.version == version)
    if min_qty is not None:
        values["min_qty"] = min_qty
    row = session.execute(update(Stock).where(*condition).values(**values)
                          .returning(Stock.qty, Stock.min_qty, Stock.version)).first()
    if row is None:
        raise Conflict(field="version")
    record(session, actor_label=actor, action="stock.set", entity_type="stock",
           entity_id=f"{shop_id}:{part_number}",
           before={"qty": before.qty, "min_qty": before.min_qty, "version": before.version},
           after={"qty": row.qty, "min_qty": row.min_qty, "version": row.version})
    return _stock_row(session, shop_id, part_id)


def put_stock(session: Session, *, shop_id: int, items: list, mode: str,
              actor: str) -> dict[str, int]:
    """Write the listed lines (merge) or make them the shop's whole stock (replace)."""
    from ..audit.services import record

    numbers = {item.part_number for item in items}
    parts = dict(session.execute(select(Part.part_number, Part.id)
                                 .where(Part.part_number.in_(numbers))).all())
    unknown = sorted(numbers - parts.keys())
    if unknown:
        raise Invalid(_("Unknown part number: %(value)s", value=", ".join(unknown[:10])),
                      code="unknown_part", field="items",
                      details=[{"part_number": pn} for pn in unknown])
    if len(numbers) != len(items):
        raise Invalid(_("A part number is listed twice."), code="duplicate_part",
                      field="items")
    counts = apply_stock(session, [(shop_id, parts[i.part_number], i.qty, i.price, i.currency)
                                   for i in items], shop_ids={shop_id},
                         replace=mode == "replace")
    record(session, actor_label=actor, action=f"stock.put.{mode}", entity_type="shop",
           entity_id=shop_id, after=counts)
    return counts


def _part_id(session: Session, part_number: str) -> int:
    part_id = session.scalar(select(Part.id).where(Part.part_number == part_number))
    if part_id is None:
        raise NotFound(_("Unknown part number: %(value)s", value=part_number))
    return part_id


def _stock_row(session: Session, shop_id: int, part_id: int) -> Stock | None:
    session.expire_all()
    return session.scalars(select(Stock).where(Stock.shop_id == shop_id,
                                               Stock.part_id == part_id)).first()
