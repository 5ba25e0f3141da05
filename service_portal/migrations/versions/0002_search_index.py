"""Search index: shop positions in Earth-centred coordinates next to the spatial index.

The search ranks candidates by the straight chord between two points in Earth-centred
coordinates (see `service_portal.geo.geodesy`). The database computes those coordinates
from `lat`/`lon` itself, so no writer can let them drift:

- SQLite: the R*Tree indexes those coordinates (three dimensions instead of latitude and
  longitude) and holds active shops only. A cube of side 2r around the centre holds every
  point within chord r, with no special case at the 180th meridian or the poles, and an
  unfiltered search is answered from the R*Tree's own nodes. (Auxiliary columns would
  hold exact values but cost a lookup per row; the nodes' 32-bit floats are within half
  a metre, which the search allows for.)
- PostgreSQL: stored generated columns on `shops`, next to the GiST index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# WGS-84: semi-major axis in km and first eccentricity squared (f = 1/298.257223563).
A_KM = 6378.137
E2 = 0.0066943799901413165


def _ecef(lat: str, lon: str) -> tuple[str, str, str]:
    n = f"({A_KM} / sqrt(1 - {E2} * sin(radians({lat})) * sin(radians({lat}))))"
    return (f"{n} * cos(radians({lat})) * cos(radians({lon}))",
            f"{n} * cos(radians({lat})) * sin(radians({lon}))",
            f"{n} * {1 - E2} * sin(radians({lat}))")


SQLITE_TRIGGERS = ("shops_rtree_insert", "shops_rtree_update", "shops_rtree_delete")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE shops_rtree")
        op.execute("CREATE VIRTUAL TABLE shops_rtree USING rtree("
                   "id, min_x, max_x, min_y, max_y, min_z, max_z)")
        x, y, z = _ecef("new.lat", "new.lon")
        insert = (f"INSERT INTO shops_rtree SELECT new.id, {x}, {x}, {y}, {y}, {z}, {z} "
                  "WHERE new.active;")
        op.execute(f"CREATE TRIGGER shops_rtree_insert AFTER INSERT ON shops BEGIN {insert} END")
        op.execute("CREATE TRIGGER shops_rtree_update AFTER UPDATE OF lat, lon, active ON shops "
                   f"BEGIN DELETE FROM shops_rtree WHERE id = old.id; {insert} END")
        op.execute("CREATE TRIGGER shops_rtree_delete AFTER DELETE ON shops BEGIN "
                   "DELETE FROM shops_rtree WHERE id = old.id; END")
        x, y, z = _ecef("lat", "lon")
        op.execute(f"INSERT INTO shops_rtree SELECT id, {x}, {x}, {y}, {y}, {z}, {z} "
                   "FROM shops WHERE active")
    else:
        for column, expr in zip(("ecef_x", "ecef_y", "ecef_z"), _ecef("lat", "lon"), strict=True):
            op.execute(f"ALTER TABLE shops ADD COLUMN {column} double precision "
                       f"GENERATED ALWAYS AS ({expr}) STORED")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE shops_rtree")
        op.execute("CREATE VIRTUAL TABLE shops_rtree USING rtree("
                   "id, min_lat, max_lat, min_lon, max_lon)")
        op.execute("CREATE TRIGGER shops_rtree_insert AFTER INSERT ON shops BEGIN "
                   "INSERT INTO shops_rtree VALUES (new.id, new.lat, new.lat, new.lon, new.lon); "
                   "END")
        op.execute("CREATE TRIGGER shops_rtree_update AFTER UPDATE OF lat, lon ON shops BEGIN "
                   "UPDATE shops_rtree SET min_lat = new.lat, max_lat = new.lat, "
                   "min_lon = new.lon, max_lon = new.lon WHERE id = new.id; END")
        op.execute("CREATE TRIGGER shops_rtree_delete AFTER DELETE ON shops BEGIN "
                   "DELETE FROM shops_rtree WHERE id = old.id; END")
        op.execute("INSERT INTO shops_rtree SELECT id, lat, lat, lon, lon FROM shops")
    else:
        for column in ("ecef_x", "ecef_y", "ecef_z"):
            op.execute(f"ALTER TABLE shops DROP COLUMN {column}")
