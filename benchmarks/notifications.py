"""Time the outbox and the worker (issue 18) and print a table.

    python benchmarks/notifications.py                               # a temporary SQLite file
    python benchmarks/notifications.py --db postgresql+psycopg://postgres@127.0.0.1/bench_mail

1. Delivery: 10,000 notifications are queued, then 2 `service-portal worker --once`
   processes deliver them to an SMTP server on loopback (aiosmtpd, in this process). It
   prints the wall time and how many distinct messages arrived, and how many twice.
   Target: under 60 s, none twice.
2. The cost to a request: staff change a case's status over the API (`PATCH
   /api/v1/cases/<ref>`, which writes one notification for the owner) and the same change
   on cases whose owners unsubscribed (no notification written); p50/p95 of each, in
   process, first quietly, then while the 2 workers deliver the 10,000 (their claims and
   marks are writes too). Target: at most 2 ms slower at p95.

The database is emptied of notifications first; the schema is migrated if needed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, func, select, update  # noqa: E402

from service_portal import create_app  # noqa: E402
from service_portal.db import session_scope  # noqa: E402
from tests.mail import SmtpServer  # noqa: E402

MESSAGES = 10_000
WORKERS = 2
CHANGES = 300


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def prepare(url: str) -> None:
    from click.testing import CliRunner

    from service_portal.cli import main as cli

    for command in ("init-db", "seed"):
        result = CliRunner().invoke(cli, [command], env={"DATABASE_URL": url})
        if result.exit_code:
            sys.exit(f"{command} failed: {result.output}")


def delivery(app, url: str, smtp: SmtpServer, *, while_delivering=None) -> None:
    from service_portal.notifications.models import Notification
    from service_portal.notifications.outbox import enqueue

    engine = app.extensions["service_portal.engine"]
    with app.app_context(), session_scope(engine) as session:
        session.execute(delete(Notification))
        for n in range(MESSAGES):
            enqueue(session, kind="staff_new_case", recipient=f"agent{n % 50}@portal.example",
                    payload={"reference": f"SP-2026-{n:06d}"})
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": app.config["SECRET_KEY"],
           "SMTP_URL": smtp.url, "PUBLIC_BASE_URL": "https://portal.example"}
    started = time.perf_counter()
    workers = [subprocess.Popen([sys.executable, "-c",
                                 "from service_portal.cli import main; main()", "worker",
                                 "--once"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(WORKERS)]
    if while_delivering is not None:
        while_delivering()
    for worker in workers:
        worker.wait()
    seconds = time.perf_counter() - started
    ids = [re.search(rb"X-Portal-Notification: (\d+)", raw).group(1) for raw in smtp.inbox.raw]
    with app.app_context(), session_scope(engine, write=False) as session:
        sent = session.scalar(select(func.count()).where(Notification.state == "sent"))
    print(f"{'delivery':34} {MESSAGES:>7} queued  {WORKERS} workers  {seconds:6.1f} s  "
          f"{MESSAGES / seconds:6.0f} msg/s  arrived {len(set(ids))}  twice "
          f"{len(ids) - len(set(ids))}  marked sent {sent}")


def request_cost(app, title: str = "PATCH status") -> None:
    from service_portal.audit.actors import Actor
    from service_portal.cases.models import Case
    from service_portal.cases.schemas import CaseRequest
    from service_portal.cases.services import open_case
    from service_portal.users.services import create_user, issue_token

    engine = app.extensions["service_portal.engine"]
    with app.app_context(), session_scope(engine) as session:
        staff = create_user(session, email=f"bench{time.time_ns()}@portal.example",
                            role="staff")
        token = issue_token(session, email=staff.email, name="bench",
                            actor=Actor.command_line("bench"))
        cases = [(open_case(session, CaseRequest.model_validate(
            {"name": "Bench Owner", "email": f"owner{n}@mail.example", "model": "byd-atto-3",
             "year": 2023, "country": "DE", "service": "maintenance", "consent": True,
             "description": "Noise from the front axle."}),
            hours=app.config["CASE_SLA_HOURS"]).reference, 1, True) for n in range(2 * CHANGES)]
        half = {ref for ref, _v, _u in cases[::2]}
        session.execute(update(Case).where(Case.reference.in_(half))
                        .values(owner_updates=False))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    timings: dict[bool, list[float]] = {True: [], False: []}
    for reference, version, _updates in cases:
        writes = reference not in half
        started = time.perf_counter()
        response = client.patch(f"/api/v1/cases/{reference}", headers=headers,
                                json={"status": "triaged", "version": version})
        timings[writes].append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.json
    print(f"{title:34} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}")
    for writes, label in ((False, "no notification (unsubscribed)"),
                          (True, "one notification to the owner")):
        values = timings[writes]
        print(f"  {label:32} {statistics.median(values):8.2f} {percentile(values, 95):8.2f} "
              f"{len(values):5}")
    print(f"  {'difference at p95':32} {'':8} "
          f"{percentile(timings[True], 95) - percentile(timings[False], 95):8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLAlchemy URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{folder}/mail.db"
        prepare(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "b" * 40,
                          "RATELIMIT_ENABLED": False})
        smtp = SmtpServer()
        smtp.start()
        try:
            request_cost(app, "PATCH status, quiet")
            delivery(app, url, smtp, while_delivering=lambda: request_cost(
                app, "PATCH status, 2 workers sending"))
        finally:
            smtp.stop()
            app.extensions["service_portal.engine"].dispose()


if __name__ == "__main__":
    main()
