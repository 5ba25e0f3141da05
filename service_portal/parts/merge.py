"""Moving one shop's stock into another's when an admin merges a duplicate shop."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlmodel import Session, select

from ..audit.actors import Actor
from ..db import utcnow
from .models import Part, Stock
from .stock_audit import line_state, record_lines


def merge_stock(session: Session, *, from_shop_id: int, to_shop_id: int,
                actor: Actor) -> dict[str, int]:
    """Move every stock line of shop `from_shop_id` to shop `to_shop_id`.

    A part only the first shop holds moves as it is (quantity, price, low-stock
    threshold; its version goes up by one). For a part both hold, the kept shop's line
    stays as it was and the duplicate's line is removed: the two listings describe one
    workshop, so adding the quantities would promise owners parts counted twice, and the
    kept shop's line is the one its dealer maintains. Each line is written in the stock
    history (`stock.merge`): the duplicate's line leaves (before, no after), a moved
    line arrives at the kept shop (no before, after). Both shops' lines are locked first
    (PostgreSQL `FOR UPDATE`; SQLite's write lock is held already), so each before is
    what the merge replaced. The search reads stock at query time (`search.stock`), and
    a moved row takes its new shop's map cell from the triggers of migration 0009, so
    the next search sees the move. Returns {"moved", "dropped"}."""
    rows = session.execute(
        select(Stock.id, Stock.shop_id, Stock.part_id, Stock.qty, Stock.price, Stock.currency,
               Stock.version, Part.part_number)
        .join(Part, Part.id == Stock.part_id)
        .where(Stock.shop_id.in_((from_shop_id, to_shop_id)))
        .order_by(Stock.id).with_for_update(of=Stock)).all()
    kept_parts = {r.part_id for r in rows if r.shop_id == to_shop_id}
    leaving = [r for r in rows if r.shop_id == from_shop_id]
    moving = [r for r in leaving if r.part_id not in kept_parts]
    dropping = [r for r in leaving if r.part_id in kept_parts]
    if moving:
        session.execute(update(Stock).where(Stock.id.in_([r.id for r in moving]))
                        .values(shop_id=to_shop_id, version=Stock.version + 1,
                                updated_at=utcnow())
                        .execution_options(synchronize_session=False))
    if dropping:
        session.execute(delete(Stock).where(Stock.id.in_([r.id for r in dropping]))
                        .execution_options(synchronize_session=False))
    changes = []
    for r in leaving:
        changes.append((from_shop_id, r.part_number,
                        line_state(r.qty, r.price, r.currency, r.version), None))
    for r in moving:
        changes.append((to_shop_id, r.part_number, None,
                        line_state(r.qty, r.price, r.currency, r.version + 1)))
    record_lines(session, actor=actor, action="stock.merge", changes=changes)
    return {"moved": len(moving), "dropped": len(dropping)}
