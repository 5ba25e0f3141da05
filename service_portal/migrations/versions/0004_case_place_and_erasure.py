"""Cases: the owner's place (for nearby shops); case events allow one update, erasure.

Case events stay append-only except for one change: blanking a note's `body` when the
owner's personal data is erased. Every other column must stay as it was.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNCHANGED = ("id", "case_id", "at", "actor_id", "actor_label", "kind", "internal")


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('place', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        same = " AND ".join(f"new.{c} IS old.{c}" for c in _UNCHANGED)
        op.execute("DROP TRIGGER case_events_no_update")
        op.execute("CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events "
                   f"WHEN NOT (new.body IS NULL AND {same} AND new.before IS old.before "
                   "AND new.after IS old.after) "
                   "BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END")
    else:
        same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _UNCHANGED)
        op.execute("DROP TRIGGER case_events_append_only ON case_events")
        op.execute(
            "CREATE FUNCTION case_events_only_erasure() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF TG_OP = 'UPDATE' AND NEW.body IS NULL AND "
            f"{same} AND NEW.before::text IS NOT DISTINCT FROM OLD.before::text "
            "AND NEW.after::text IS NOT DISTINCT FROM OLD.after::text THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION 'case_events is append-only'; END $$")
        op.execute("CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON "
                   "case_events FOR EACH ROW EXECUTE FUNCTION case_events_only_erasure()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER case_events_no_update")
        op.execute("CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events "
                   "BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END")
    else:
        op.execute("DROP TRIGGER case_events_append_only ON case_events")
        op.execute("DROP FUNCTION case_events_only_erasure()")
        op.execute("CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON "
                   "case_events FOR EACH ROW EXECUTE FUNCTION refuse_change()")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('lon')
        batch_op.drop_column('lat')
        batch_op.drop_column('place')
