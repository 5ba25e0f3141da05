"""Evidence in the demo data set: verified, pending and rejected documents on some of the
demo shops, made through the same services as a dealer's upload and a staff review, with
one fictional PDF as every file. Idempotent: nothing is added once any evidence exists."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import cycle
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from ..audit.actors import Actor
from ..shops.models import Shop, ShopBrand
from .models import Credential
from .services import Evidence, review, submit

#: Fictional technicians named on the demo certificates.
TECHNICIANS = ("Lena Brandt", "Omar Al-Harbi", "Wei Ling Tan", "Sofía Ramírez",
               "Jonas Berg", "Aisha Rahman", "Marco Bianchi", "Nok Srisuk")
ISSUER = "Demo Academy for HV Safety (fictional)"


def load_demo_evidence(session: Session, pdf: Path, *, today: date | None = None) -> dict:
    """Add the demo evidence unless some exists; returns how many documents per state."""
    if session.scalar(select(func.count()).select_from(Credential)):
        return {"created": 0}
    today = today or date.today()
    data = pdf.read_bytes()
    dealer = Actor.command_line("demo dealer")
    staff = Actor.command_line("demo staff")
    # Every third qualified shop has documents: enough to see every state on the pages,
    # few enough to keep `demo` quick.
    qualified = session.scalars(select(Shop).where(Shop.hv_level.in_(("2S", "3S")),
                                                   Shop.active).order_by(Shop.id)).all()[::3]
    names = cycle(TECHNICIANS)
    counts = {"verified": 0, "pending": 0, "rejected": 0}
    for number, shop in enumerate(qualified):
        # Most certificates verified; every seventh waits for staff, every eleventh was
        # refused; one in five expires within the month (the dealer's reminder).
        valid_until = today + (timedelta(days=20) if number % 5 == 4
                               else timedelta(days=365 + 30 * (number % 12)))
        row = submit(session, shop, Evidence(kind="hv", technician=next(names),
                                             hv_level=shop.hv_level, issuer=ISSUER,
                                             valid_until=valid_until),
                     file_name="hv-certificate.pdf", data=data, actor=dealer, today=today)
        state = _decide(session, row, number, staff)
        counts[state] += 1
        brand_id = session.scalar(select(ShopBrand.brand_id).where(
            ShopBrand.shop_id == shop.id, ShopBrand.level == "authorized")
            .order_by(ShopBrand.brand_id).limit(1))
        if brand_id is not None and number % 2 == 0:
            row = submit(session, shop, Evidence(kind="brand", brand_id=brand_id,
                                                 document="contract",
                                                 valid_until=today + timedelta(days=730)),
                         file_name="service-contract.pdf", data=data, actor=dealer,
                         today=today)
            counts[_decide(session, row, number + 1, staff)] += 1
    return counts


def _decide(session: Session, row: Credential, number: int, staff: Actor) -> str:
    if number % 7 == 3:
        return "pending"
    if number % 11 == 5:
        review(session, row.id, version=row.version, verified=False, actor=staff,
               reason="The certificate is for another company; upload your own.",
               notify=False)
        return "rejected"
    review(session, row.id, version=row.version, verified=True, reason=None, actor=staff,
           notify=False)
    return "verified"
