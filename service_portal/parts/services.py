"""Writing parts and stock: the all-or-nothing imports and supersession rules."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, delete, func, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ..audit.actors import Actor
from ..audit.services import record
from ..catalog.services import brand_ids, model_index
from ..db import (
    begin_writing,
    bulk_upsert_returning,
    copy_rows,
    driver_mark,
    driver_timestamp,
    utcnow,
)
from ..errors import Conflict, Invalid, NotFound
from ..search.stock import cell_sql
from ..shops.models import Shop
from ..tabular import ImportFailed, RowError, Table, require_columns
from .models import Part, PartFitment, Stock, StockUpload
from .schemas import (
    MAX_QTY,
    PART_COLUMNS,
    STOCK_COLUMNS,
    PartInput,
    parse_part_row,
    parse_stock_row,
)
from .stock_audit import line_state, record_lines, record_staged_changes, stock_entity_id


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


PARTS_IMPORT_ACTION = "parts.import"


def import_parts(session: Session, table: Table, *, actor: Actor | None = None,
                 source: str = "", dry_run: bool = False) -> dict[str, int]:
    """Create or update the parts of `table` (matched on part_number), or none of them.

    A successor must be in the file or the catalog, and the chains must stay acyclic.
    `dry_run` checks the file and counts what it would change, storing nothing; otherwise
    one audit entry records the import (who, the file's name, its rows and the counts)."""
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
    if dry_run:
        return _count_part_changes(session, [p for _n, p in parts], brands, models, by_id)
    begin_writing(session)  # the checks above held no write lock
    counts = _write_parts(session, [p for _n, p in parts], brands, models)
    if _changed(counts):  # like a stock import: a file that changes nothing is no change
        record(session, actor=actor or Actor.command_line(), action=PARTS_IMPORT_ACTION,
               entity_type="import", entity_id="parts",
               after={"file": source, "rows": len(parts), **counts})
    return counts


def _count_part_changes(session: Session, parts: list[PartInput], brands: dict[str, int],
                        models: dict[str, tuple[int, int]], numbers: dict[int, str]
                        ) -> dict[str, int]:
    """What `_write_parts` would count, read without writing (`numbers`: part id ->
    part number of the catalog)."""
    existing = {p.part_number: p for p in session.exec(
        select(Part).where(Part.part_number.in_([p.part_number for p in parts])))}
    fitted = _fitments(session, [p.id for p in existing.values()])
    created = updated = 0
    for item in parts:
        row = existing.get(item.part_number)
        if row is None:
            created += 1
        elif (row.brand_id, row.name, row.category, numbers.get(row.superseded_by_id)) != (
                brands[item.brand], item.name, item.category, item.superseded_by or None) \
                or {models[slug][0] for slug in item.fits} != fitted.get(row.id, set()):
            updated += 1
    return {"created": created, "updated": updated,
            "unchanged": len(parts) - created - updated}


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


STOCK_BATCH = 10_000
IMPORT_ACTION = "stock.import"


def import_stock(session: Session, table: Table, *, actor: Actor, source: str,
                 shop_external_id: str | None = None, replace: bool = False,
                 dry_run: bool = False, organization_id: int | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Load stock rows, all or nothing; returns counts of created, updated, deleted rows.

    With `shop_external_id` every row belongs to that shop; otherwise the file names the
    shop of each row in `shop_external_id`. With `organization_id`, only that
    organisation's shops exist (others are reported as unknown, as if absent).

    Rows stream through in batches: each batch is checked and its good rows appended to a
    temporary staging table (PostgreSQL: COPY), so a million rows never sit in memory
    together. A bad row anywhere makes the whole import fail with every bad row listed
    (ImportFailed) before `stock` is touched. Otherwise one upsert moves the staged rows
    into `stock` (a dry run only counts what it would do). `replace` removes the stock of
    the named shops that the file does not list. A changed row gets `version + 1`; an
    unchanged row is not touched.

    Only that last step takes the write lock (`begin_writing`): reading and checking the
    file, and a whole dry run, leave other writers free. A shop or part deleted meanwhile
    makes it a 409 `catalog_changed` that stores nothing.

    Audited (not a dry run): one `stock.import` entry per line created, changed or
    removed, with its before and after, and, when it changed anything, one for the import
    (entity `import`, the file name `source`, its rows, the mode and the counts)."""
    require_columns(table, STOCK_COLUMNS if shop_external_id
                    else (*STOCK_COLUMNS, "shop_external_id"))
    shops = _ShopIds(session, organization_id)
    if shop_external_id is not None and shops.get(shop_external_id) is None:
        raise NotFound(_("Unknown shop: %(value)s", value=shop_external_id), field="shop")
    parts = _PartIds(session)
    shop_column = shop_external_id is None
    errors: list[RowError] = []
    seen: dict[int, int] = {}  # shop and part packed in one int: a third of a tuple's memory
    touched: set[int] = set()
    stage = _StockStage(session)
    def checked() -> Iterator[tuple | None]:
        """Each row's values as a flat tuple, or None for a bad row. Flat tuples of plain
        values drop out of the cyclic GC's sight, so a waiting batch adds nothing to its
        full collections (which made a million-row import a quarter slower)."""
        for number, row in table.rows:
            item, row_errors = parse_stock_row(number, row, shop_column=shop_column)
            if item is None:
                errors.extend(row_errors)
                yield None
                continue
            shop = item.shop_external_id
            if not shop_column:
                named = (row.get("shop_external_id") or "").strip()
                if named and named != shop_external_id:
                    errors.append(RowError(number, "shop_external_id", _(
                        "This row names another shop than %(shop)s.", shop=shop_external_id)))
                    yield None
                    continue
                shop = shop_external_id
            yield number, shop, item.part_number, item.qty, item.price, item.currency

    for chunk in _chunks_of(checked(), STOCK_BATCH):
        parsed = [item for item in chunk if item is not None]
        shops.load({item[1] for item in parsed})
        parts.load({item[2] for item in parsed})
        shop_ids, part_ids = shops.known, parts.known  # every key of `parsed` is loaded
        good = []
        for number, shop, part, qty, price, currency in parsed:
            shop_id = shop_ids.get(shop)
            part_id = part_ids.get(part)
            if shop_id is None:
                errors.append(RowError(number, "shop_external_id", _(
                    "Unknown shop: %(value)s", value=shop)))
                continue
            if part_id is None:
                errors.append(RowError(number, "part_number", _(
                    "Unknown part number: %(value)s", value=part)))
                continue
            first = seen.setdefault(shop_id << 32 | part_id, number)
            if first != number:
                errors.append(RowError(number, "part_number", _(
                    "Duplicate part for this shop; first seen in row %(row)s.", row=first)))
                continue
            touched.add(shop_id)
            good.append((shop_id, part_id, qty, price, currency))
        if not errors:  # after the first bad row, only check: nothing will be written
            stage.append(good)
        if progress is not None:
            progress(len(chunk))
    if errors:
        stage.drop()
        raise ImportFailed(sorted(errors, key=lambda e: e.row))
    if not dry_run:
        begin_writing(session)
    try:
        counts = stage.merge(dry_run=dry_run, actor=actor)
    except IntegrityError:  # the checked shops or parts are gone: the file needs checking again
        raise Conflict(_("Shops or parts changed while the file was checked; nothing was "
                         "imported. Please try again."), code="catalog_changed") from None
    stage.drop()
    if shop_external_id is not None:
        touched.add(shops.get(shop_external_id))
    if replace:
        counts["deleted"] = _remove_unlisted(session, touched, seen, dry_run=dry_run,
                                             actor=actor, action=IMPORT_ACTION)
    if not dry_run and _changed(counts):
        record(session, actor=actor, action=IMPORT_ACTION, entity_type="import",
               entity_id=source[:80] or "-",
               after={"file": source, "rows": stage.rows,
                      "mode": "replace" if replace else "merge",
                      "shop": shop_external_id, **counts})
    session.flush()
    return counts


#: Previews a dealer may keep between upload and commit, and their size together (in
#: largest uploads): beyond either, a new preview replaces that dealer's oldest ones.
PREVIEWS_PER_USER = 3
PREVIEW_UPLOADS_PER_USER = 2


def keep_upload(session: Session, *, user_id: int, shop_id: int | None, filename: str,
                data: bytes,
                max_upload_bytes: int, ttl: timedelta) -> str:
    """Keep an uploaded file between its preview and its commit; returns the token that
    commits it. Files older than `ttl` go. Each user keeps at most PREVIEWS_PER_USER
    previews of at most PREVIEW_UPLOADS_PER_USER * `max_upload_bytes` together: the new
    one replaces that user's oldest beyond either (committing a replaced preview asks for
    the file again), so a dealer never has to clear old previews, and never holds more."""
    from ..users.models import User

    session.execute(delete(StockUpload).where(StockUpload.created_at < utcnow() - ttl))
    # One user's previews are counted one request at a time (PostgreSQL; SQLite's write
    # lock already does that).
    session.execute(select(User.id).where(User.id == user_id).with_for_update())
    kept = session.execute(
        select(StockUpload.id, func.length(StockUpload.data))
        .where(StockUpload.user_id == user_id)
        .order_by(StockUpload.created_at.desc(), StockUpload.id.desc())).all()
    room, count = PREVIEW_UPLOADS_PER_USER * max_upload_bytes - len(data), 1
    for index, (_id, size) in enumerate(kept):
        if count == PREVIEWS_PER_USER or size > room:
            session.execute(delete(StockUpload).where(
                StockUpload.id.in_([upload_id for upload_id, _size in kept[index:]])))
            break
        room, count = room - size, count + 1
    token = secrets.token_urlsafe(24)
    session.add(StockUpload(token=token, user_id=user_id, shop_id=shop_id, filename=filename,
                            data=data))
    session.flush()
    return token


class _StockStage:
    """A temporary table holding an import's checked rows until all of them are checked.

    The staged rows reach `stock` in one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`
    that touches only lines whose values differ. The table lives in this transaction's
    connection only; it is dropped after use (and with the transaction on a rollback)."""

    name = "stock_import"
    columns = ("shop_id", "part_id", "qty", "price", "currency")
    ddl = ("CREATE TEMPORARY TABLE stock_import (shop_id INTEGER NOT NULL, "
           "part_id INTEGER NOT NULL, qty INTEGER NOT NULL, price NUMERIC(12, 2), "
           "currency VARCHAR(3) NOT NULL)")

    def __init__(self, session: Session) -> None:
        self.session, self.rows, self.created = session, 0, False

    def append(self, rows: list[tuple]) -> None:
        connection = self.session.connection()
        sqlite = connection.dialect.name == "sqlite"
        if not self.created:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {self.name}")
            connection.exec_driver_sql(self.ddl if sqlite else self.ddl + " ON COMMIT DROP")
            self.created = True
        if sqlite:  # what the ORM's Numeric hands SQLite
            rows = [(s, p, q, None if pr is None else float(pr), c) for s, p, q, pr, c in rows]
        copy_rows(connection, self.name, self.columns, rows)
        self.rows += len(rows)

    def drop(self) -> None:
        if self.created:
            self.session.connection().exec_driver_sql(f"DROP TABLE {self.name}")
            self.created = False

    def merge(self, *, dry_run: bool, actor: Actor) -> dict[str, int]:
        """Counts of created, updated and unchanged lines; written (and audited, one entry
        per line written) unless `dry_run`. When the lines written differ from the lines
        audited, another writer created a line meanwhile (PostgreSQL): 409, nothing stored."""
        counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
        if not self.rows:
            return counts
        connection = self.session.connection()
        sqlite = connection.dialect.name == "sqlite"
        differs = "IS NOT" if sqlite else "IS DISTINCT FROM"
        if dry_run:
            changed = " OR ".join(f"s.{c} {differs} i.{c}" for c in ("qty", "price", "currency"))
            created, updated = connection.exec_driver_sql(
                f"SELECT count(*) - count(s.id), "
                f"coalesce(sum(CASE WHEN s.id IS NOT NULL AND ({changed}) THEN 1 END), 0) "
                f"FROM {self.name} i LEFT JOIN stock s "
                f"ON s.shop_id = i.shop_id AND s.part_id = i.part_id").one()
        else:
            changed = " OR ".join(f"stock.{c} {differs} excluded.{c}"
                                  for c in ("qty", "price", "currency"))
            shop_cell = cell_sql(connection.dialect.name, "h.lat", "h.lon")
            upsert = (
                "INSERT INTO stock (shop_id, part_id, qty, price, currency, min_qty, version, "
                f"updated_at, cell) SELECT shop_id, part_id, qty, price, currency, 0, 1, "
                f"{driver_mark(connection.dialect)}, (SELECT {shop_cell} FROM shops h "
                f"WHERE h.id = shop_id) FROM {self.name} "
                # SQLite needs the WHERE to tell its upsert clause from a join's ON.
                "WHERE true ON CONFLICT (shop_id, part_id) DO UPDATE SET qty = excluded.qty, "
                "price = excluded.price, currency = excluded.currency, "
                "updated_at = excluded.updated_at, version = stock.version + 1 "
                f"WHERE {changed}")
            now = (driver_timestamp(connection, utcnow()),)
            audited = record_staged_changes(self.session, actor=actor, action=IMPORT_ACTION,
                                            stage=self.name)
            if sqlite:  # the write lock is held: the line count tells new lines apart
                count = "SELECT count(*) FROM stock"
                before = connection.exec_driver_sql(count).scalar_one()
                written = connection.exec_driver_sql(upsert, now).rowcount
                created = connection.exec_driver_sql(count).scalar_one() - before
            else:  # others may write meanwhile: count what this statement returned
                created, written = connection.exec_driver_sql(
                    f"WITH up AS ({upsert} RETURNING version) SELECT count(*) FILTER "
                    "(WHERE version = 1), count(*) FROM up", now).one()
            updated = written - created
            if audited != (created, updated):
                raise Conflict(_("The stock changed while the file was imported; nothing "
                                 "was imported. Please try again."), code="stock_changed")
        counts.update(created=created, updated=updated,
                      unchanged=self.rows - created - updated)
        return counts


class _ShopIds:
    """External id -> id of the shops a file names, looked up a batch at a time."""

    # One statement with an expanding parameter: compiled once, whatever the batch size
    # (a fresh `IN (...)` of 500 literals costs more to compile than to run).
    query = select(Shop.external_id, Shop.id).where(
        Shop.external_id.in_(bindparam("keys", expanding=True)))

    def __init__(self, session: Session, organization_id: int | None) -> None:
        self.session, self.organization_id = session, organization_id
        self.known: dict[str, int | None] = {}
        if organization_id is not None:
            self.query = self.query.where(Shop.organization_id == organization_id)

    def load(self, keys: set[str]) -> None:
        missing = [k for k in keys if k not in self.known]
        if not missing:
            return
        self.known.update(dict.fromkeys(missing))
        for chunk in _chunks_of(missing, 900):
            self.known.update(dict(self.session.execute(self.query, {"keys": chunk}).all()))

    def get(self, key: str | None) -> int | None:
        if key not in self.known:
            self.load({key})
        return self.known.get(key)


class _PartIds(_ShopIds):
    """Part number -> id, looked up a batch at a time."""

    query = select(Part.part_number, Part.id).where(
        Part.part_number.in_(bindparam("keys", expanding=True)))

    def __init__(self, session: Session) -> None:
        super().__init__(session, None)


def _remove_unlisted(session: Session, shop_ids: set[int], listed, *, dry_run: bool,
                     actor: Actor, action: str) -> int:
    """With `replace`: delete the named shops' stock whose (shop << 32 | part) key is not
    in `listed`, each deletion audited with the line as it was; returns how many lines."""
    stale = [(s, p) for s, p in session.exec(select(Stock.shop_id, Stock.part_id)
                                            .where(Stock.shop_id.in_(shop_ids))).all()
             if (s << 32 | p) not in listed]
    if dry_run or not stale:
        return len(stale)
    gone = []
    for chunk in _chunks_of(stale, 500):
        gone.extend(session.execute(delete(Stock).where(or_(*(
            and_(Stock.shop_id == s, Stock.part_id == p) for s, p in chunk)))
            .returning(Stock.shop_id, Stock.part_id, Stock.qty, Stock.price, Stock.currency,
                       Stock.version)).all())
    numbers = _part_numbers(session, {row.part_id for row in gone})
    record_lines(session, actor=actor, action=action, changes=[
        (row.shop_id, numbers[row.part_id],
         line_state(row.qty, row.price, row.currency, row.version), None) for row in gone])
    return len(stale)


def _part_numbers(session: Session, part_ids: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in _chunks_of(part_ids, 900):
        out.update(session.execute(select(Part.id, Part.part_number)
                                   .where(Part.id.in_(chunk))).all())
    return out


def _chunks_of(rows, size: int):
    """Consecutive lists of at most `size` items from any iterable."""
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _upsert_lines(session: Session, rows: list[tuple]) -> list[tuple]:
    """Write (shop id, part id, qty, price, currency) rows with one upsert statement; returns
    (part id, qty, price, currency, version) of each line it created or changed.

    The upsert touches only lines whose values differ: version 1 for a new line, more for
    a changed one, nothing for an unchanged one; so no line is read first."""
    if not rows:
        return []
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    now = driver_timestamp(connection, utcnow())
    distinct = "IS NOT" if sqlite else "IS DISTINCT FROM"
    return bulk_upsert_returning(
        connection, "stock",
        ("shop_id", "part_id", "qty", "price", "currency", "min_qty", "version", "updated_at"),
        [(s, p, q, float(pr) if sqlite and pr is not None else pr, c, 0, 1, now)
         for s, p, q, pr, c in rows],
        conflict=("shop_id", "part_id"),
        update_sql="qty = excluded.qty, price = excluded.price, "
                   "currency = excluded.currency, updated_at = excluded.updated_at, "
                   "version = stock.version + 1",
        where_sql=f"stock.qty {distinct} excluded.qty OR stock.price {distinct} "
                  f"excluded.price OR stock.currency {distinct} excluded.currency",
        returning="part_id, qty, price, currency, version")


def _locked_lines(session: Session, shop_id: int, part_ids) -> dict[int, dict]:
    """The shop's lines of `part_ids` as audit states, locked until the transaction ends
    (PostgreSQL; SQLite's write lock is held already), so nobody changes them between
    this read and the write that follows."""
    out = {}
    for chunk in _chunks_of(part_ids, 900):
        for row in session.execute(
                select(Stock.part_id, Stock.qty, Stock.price, Stock.currency, Stock.version)
                .where(Stock.shop_id == shop_id, Stock.part_id.in_(chunk))
                .order_by(Stock.part_id).with_for_update()):
            out[row.part_id] = line_state(row.qty, row.price, row.currency, row.version)
    return out


def adjust_stock(session: Session, *, shop_id: int, part_number: str, delta: int,
                 actor: Actor) -> Stock:
    """Add `delta` to the stock in one atomic `UPDATE ... WHERE 0 <= qty + delta <= MAX_QTY`,
    so concurrent writers never lose an update nor pass a bound together; 409
    `insufficient_stock` below zero, 422 (as for a `qty` too high) above MAX_QTY. Audited
    with the quantity before, which is the one returned less `delta`."""
    part_id = _part_id(session, part_number)
    # The changed row comes back whole: no second read.
    row = session.scalars(
        update(Stock)
        .where(Stock.shop_id == shop_id, Stock.part_id == part_id, Stock.qty + delta >= 0,
               Stock.qty + delta <= MAX_QTY)
        .values(qty=Stock.qty + delta, version=Stock.version + 1, updated_at=utcnow())
        .returning(Stock),
        execution_options={"synchronize_session": False, "populate_existing": True}).first()
    if row is None:
        current = _stock_row(session, shop_id, part_id)
        if current is None:
            raise NotFound(_("This shop has no stock line for %(part)s.", part=part_number))
        if delta > 0:
            message = _("At most %(max)s.", max=MAX_QTY)
            raise Invalid(_("Some fields are missing or invalid."), code="invalid_body",
                          field="qty_delta", details=[{"field": "qty_delta",
                                                       "message": message}])
        raise Conflict(_("Not enough in stock for this change."), code="insufficient_stock",
                       field="qty_delta")
    record(session, actor=actor, action="stock.adjust", entity_type="stock",
           entity_id=stock_entity_id(shop_id, part_number),
           before={"qty": row.qty - delta, "version": row.version - 1},
           after={"qty": row.qty, "version": row.version})
    return row


def set_stock(session: Session, *, shop_id: int, part_number: str, qty: int | None,
              version: int | None, min_qty: int | None, actor: Actor) -> Stock:
    """Set `qty` only if the row is still at `version` (optimistic: 409 when another write
    came first); `min_qty` (the low-stock threshold) needs no version.

    The line is read and locked before it is written (PostgreSQL `FOR UPDATE`; SQLite's
    write lock), so the audit entry's before is exactly what this change replaced and a
    concurrent write waits for it, then sees the new version."""
    part_id = _part_id(session, part_number)
    line = (Stock.shop_id == shop_id, Stock.part_id == part_id)
    before = session.execute(select(Stock.qty, Stock.min_qty, Stock.version).where(*line)
                             .with_for_update()).first()
    if before is None:
        raise NotFound(_("This shop has no stock line for %(part)s.", part=part_number))
    values: dict = {"updated_at": utcnow(), "version": Stock.version + 1}
    if qty is not None:
        if before.version != version:
            raise Conflict(field="version")
        values["qty"] = qty
    if min_qty is not None:
        values["min_qty"] = min_qty
    after = session.execute(update(Stock).where(*line).values(**values)
                            .returning(Stock.qty, Stock.min_qty, Stock.version)
                            .execution_options(synchronize_session=False)).one()
    record(session, actor=actor, action="stock.set", entity_type="stock",
           entity_id=stock_entity_id(shop_id, part_number), before=before._asdict(),
           after=after._asdict())
    return _stock_row(session, shop_id, part_id)


def put_stock(session: Session, *, shop_id: int, items: list, mode: str,
              actor: Actor) -> dict[str, int]:
    """Write the listed lines (merge) or make them the shop's whole stock (replace), all
    or nothing. Audited: one `stock.put.<mode>` entry per line created, changed or removed
    (each before read under lock, before the write) and, when it changed anything, one for
    the PUT (entity shop: its rows, mode and counts). A line another writer created
    meanwhile is a 409."""
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
    action = f"stock.put.{mode}"
    before = _locked_lines(session, shop_id, sorted(parts.values()))
    written = _upsert_lines(session, [(shop_id, parts[i.part_number], i.qty, i.price,
                                       i.currency) for i in items])
    numbers_by_id = {part_id: number for number, part_id in parts.items()}
    changes = []
    for part_id, qty, price, currency, version in written:
        if part_id not in before and version != 1:
            raise Conflict(_("The stock changed meanwhile; nothing was stored. Please try "
                             "again."), code="stock_changed")
        changes.append((shop_id, numbers_by_id[part_id], before.get(part_id),
                        line_state(qty, price, currency, version)))
    record_lines(session, actor=actor, action=action, changes=changes)
    created = sum(1 for _p, *_values, version in written if version == 1)
    counts = {"created": created, "updated": len(written) - created, "deleted": 0,
              "unchanged": len(items) - len(written)}
    if mode == "replace":
        counts["deleted"] = _remove_unlisted(session, {shop_id},
                                             {shop_id << 32 | p for p in parts.values()},
                                             dry_run=False, actor=actor, action=action)
    if _changed(counts):
        record(session, actor=actor, action=action, entity_type="shop", entity_id=shop_id,
               after={"mode": mode, "rows": len(items), **counts})
    return counts


def _changed(counts: dict[str, int]) -> bool:
    return any(counts.get(k) for k in ("created", "updated", "deleted"))


def _part_id(session: Session, part_number: str) -> int:
    part_id = session.scalar(select(Part.id).where(Part.part_number == part_number))
    if part_id is None:
        raise NotFound(_("Unknown part number: %(value)s", value=part_number))
    return part_id


def _stock_row(session: Session, shop_id: int, part_id: int) -> Stock | None:
    session.expire_all()
    return session.scalars(select(Stock).where(Stock.shop_id == shop_id,
                                               Stock.part_id == part_id)).first()
