"""Loading the demo data set from `seed/` (idempotent: a second run changes nothing).

The demo data names brands, models and services of the reference catalog, which
`service-portal init-db` loads (`reference/`): seeding expects it there."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlmodel import Session, select

from ..audit.actors import Actor
from ..bulletins.schemas import BulletinIn
from ..bulletins.services import upsert_bulletin
from ..credentials.demo import load_demo_evidence
from ..errors import Invalid
from ..markets.services import load_markets
from ..parts.services import import_parts, import_stock
from ..reference.load import reference_loaded
from ..shops.models import Organization
from ..shops.services import import_shops, upsert_organizations
from ..shops.takeback import load_takeback
from ..tabular import read_table
from ..users.models import User
from ..users.services import create_user
from .generate import ORG_SLUG as GENERATED_ORG

SEED_DIR = Path(__file__).resolve().parents[2] / "seed"
STAFF_EMAIL = "staff@service-portal.example"
ADMIN_EMAIL = "admin@service-portal.example"


def dealer_email(org_slug: str) -> str:
    return f"dealer@{org_slug}.example"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


class Step:
    """What `load_seed` tells its caller about one step: its name, then (when done) its
    counts and how long it took."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: dict[str, int] | None = None
        self.seconds = 0.0


def load_seed(session: Session, seed_dir: Path = SEED_DIR,
              progress: Callable[[Step], None] = lambda _step: None) -> dict[str, dict]:
    """Load every seed file in dependency order; returns counts per step. `progress`
    hears each step twice: as it starts (no counts yet) and when it is done. Without the
    reference catalog (brands, models, services) nothing is loaded: a clear error says to
    run `init-db` first."""
    if not reference_loaded(session):
        raise Invalid(_("The reference catalog (brands, models, services) is not loaded: "
                        "run `service-portal init-db` first."), code="reference_missing")
    report: dict[str, dict] = {}

    def step(name: str, work: Callable[[], object]) -> None:
        current = Step(name)
        progress(current)
        started = perf_counter()
        counts = work()
        current.seconds = perf_counter() - started
        current.counts = counts if isinstance(counts, dict) else \
            {"created": counts[0], "updated": counts[1]}
        report[name] = current.counts
        progress(current)

    actor = Actor.command_line()
    step("organizations", lambda: upsert_organizations(session, [
        {"slug": r["slug"], "name": r["name"], "country": r["country"] or None}
        for r in read_csv(seed_dir / "organizations.csv")]))
    step("shops", lambda: import_shops(session, _table(seed_dir / "shops.csv")))
    step("take-back points", lambda: load_takeback(
        session, read_csv(seed_dir / "takeback.csv"), actor=actor))
    step("evidence", lambda: load_demo_evidence(
        session, seed_dir / "evidence" / "demo-certificate.pdf"))
    step("parts", lambda: import_parts(session, _table(seed_dir / "parts.csv")))
    step("stock", lambda: import_stock(session, _table(seed_dir / "stock.csv"),
                                       actor=actor, source="stock.csv"))
    step("bulletins", lambda: _load_bulletins(session, seed_dir / "bulletins.json"))
    step("users", lambda: ensure_demo_users(session))
    # Before the cases: their due times count their market's support hours.
    step("markets", lambda: load_markets(session, actor))
    step("cases", lambda: _load_cases(session, seed_dir / "cases.json"))
    step("canned replies", lambda: _load_canned_replies(session,
                                                        seed_dir / "canned_replies.json"))
    return report


def ensure_demo_users(session: Session) -> dict[str, int]:
    """A dealer per organisation of the data set, one staff member, one admin; created
    without a password (they cannot sign in until `demo` or an admin sets one)."""
    have = set(session.exec(select(User.email)).all())
    created = 0
    wanted = [(STAFF_EMAIL, "staff", None, "Demo Staff"),
              (ADMIN_EMAIL, "admin", None, "Demo Admin")]
    wanted += [(dealer_email(slug), "dealer", slug, f"Demo dealer ({name})")
               for slug, name in session.exec(select(Organization.slug, Organization.name)
                                              .where(Organization.slug != GENERATED_ORG)
                                              .order_by(Organization.slug)).all()]
    for email, role, org, name in wanted:
        if email not in have:
            create_user(session, email=email, role=role, organization=org, name=name)
            created += 1
    return {"created": created, "updated": 0}


def _load_bulletins(session: Session, path: Path) -> dict[str, int]:
    created = updated = 0
    for raw in json.loads(path.read_text(encoding="utf-8")):
        data = BulletinIn.model_validate(raw)
        bulletin, changed = upsert_bulletin(session, data, actor=Actor.command_line())
        if changed:
            created += bulletin.version == 1
            updated += bulletin.version > 1
    return {"created": created, "updated": updated}


def _load_canned_replies(session: Session, path: Path) -> dict[str, int]:
    from ..cases.canned import upsert_canned_replies

    if not path.exists():
        return {"created": 0, "updated": 0}
    created, updated = upsert_canned_replies(session, json.loads(path.read_text("utf-8")))
    return {"created": created, "updated": updated}


def _latest_local(when: dict, now: datetime) -> datetime:
    """The latest `weekday` (ISO) at `time` in `zone` before `now`, in UTC: a demo case
    opened "last Thursday afternoon in Riyadh"."""
    zone = ZoneInfo(when["zone"])
    local = now.astimezone(zone)
    hour, minute = (int(part) for part in when["time"].split(":"))
    day = local.date() - timedelta(days=(local.isoweekday() - when["weekday"]) % 7)
    moment = datetime.combine(day, time(hour, minute), zone)
    if moment > local:
        moment -= timedelta(days=7)
    return moment.astimezone(UTC)


def _load_cases(session: Session, path: Path) -> dict[str, int]:
    """Replay the demo cases through the case services (skipping those already there), so
    their history and SLA clock follow the real rules. Replaying history tells nobody: no
    notification is written."""
    from ..cases.models import Case
    from ..cases.schemas import CasePatch, CaseRequest, NoteIn
    from ..cases.services import add_note, change_case, open_case
    from ..cases.workflow import DEFAULT_SLA_HOURS
    from ..db import utcnow
    from ..shops.models import Shop

    if not path.exists():
        return {"created": 0, "updated": 0}
    have = set(session.exec(select(Case.reference)).all())
    staff = session.exec(select(User).where(User.email == STAFF_EMAIL)).one()
    created = 0
    now = utcnow()
    for raw in json.loads(path.read_text(encoding="utf-8")):
        if raw["reference"] in have:
            continue
        start = _latest_local(raw["opened_local"], now) if "opened_local" in raw \
            else now - timedelta(days=raw["days_ago"])
        request = CaseRequest.model_validate({
            "name": raw["name"], "email": raw["email"], "model": raw["model"],
            "year": raw["year"], "country": raw["country"], "service": raw["service"],
            "description": raw["description"], "locale": raw["locale"], "consent": True})
        case = open_case(session, request, hours=DEFAULT_SLA_HOURS, now=start,
                         place=(raw["place"], raw["lat"], raw["lon"]),
                         locale=raw["locale"], reference=raw["reference"], notify=False)
        moves = [(s["after_hours"], "step", s) for s in raw["steps"]]
        moves += [(n["after_hours"], "note", n) for n in raw["notes"]]
        for hours, kind, item in sorted(moves, key=lambda m: (m[0], m[1] != "step")):
            at = start + timedelta(hours=hours)
            session.refresh(case)
            if kind == "note":
                add_note(session, case, NoteIn(body=item["body"], internal=item["internal"]),
                         actor=Actor.web(staff), now=at, notify=False)
                continue
            values = {"version": case.version, "status": item["status"]}
            if "priority" in item:
                values["priority"] = item["priority"]
            if item["status"] == "assigned":
                values["assignee"] = staff.email
            if "shop" in item:
                values["shop_id"] = session.exec(select(Shop.id).where(
                    Shop.external_id == item["shop"])).one()
            change_case(session, case, CasePatch.model_validate(values),
                        actor=Actor.web(staff), hours=DEFAULT_SLA_HOURS, now=at, notify=False)
        created += 1
    return {"created": created, "updated": 0}


def _table(path: Path):
    return read_table(path.read_bytes(), path.name)


def reset_demo_passwords(session: Session) -> list[tuple[str, str, str]]:
    """Give the demo users new random passwords; returns (email, role, password)."""
    import secrets

    from ..users.services import set_password

    users = session.exec(select(User).where(
        User.email.in_([STAFF_EMAIL, ADMIN_EMAIL]) | User.email.like("dealer@%.example"))
        .order_by(User.role, User.email)).all()
    out = []
    for user in users:
        password = secrets.token_urlsafe(12)
        set_password(session, user, password)
        out.append((user.email, user.role, password))
    return out
