"""Writing people's email choices: the language of their emails, and for staff which cases
they hear of. Each save is audited."""

from __future__ import annotations

from sqlmodel import Session

from ..audit.actors import Actor
from ..audit.services import record
from ..config import SUPPORTED_LOCALES
from ..errors import Invalid
from ..users.models import User
from .models import StaffAlertChoice


def save_email_choices(session: Session, user: User, *, locale: str, actor: Actor,
                       new_cases: bool = False, sla_warnings: bool = False,
                       assignments: bool = True, countries: list[str] | None = None,
                       brands: list[str] | None = None) -> None:
    """Store `user`'s email language and, for staff and admins, what they are told of:
    new cases (in `countries` and `brands`; none listed means all), SLA warnings (the same
    filter) and cases assigned to them."""
    if locale not in SUPPORTED_LOCALES:
        raise Invalid(field="locale")
    row = session.get(User, user.id)
    before = {"locale": row.locale}
    row.locale = locale
    session.add(row)
    after = {"locale": locale}
    if row.role in ("staff", "admin"):
        chosen = session.get(StaffAlertChoice, row.id) or StaffAlertChoice(user_id=row.id)
        before.update(new_cases=chosen.new_cases, sla_warnings=chosen.sla_warnings,
                      assignments=chosen.assignments, countries=list(chosen.countries or []),
                      brands=list(chosen.brands or []))
        chosen.new_cases, chosen.sla_warnings = new_cases, sla_warnings
        chosen.assignments = assignments
        chosen.countries, chosen.brands = sorted(set(countries or [])), sorted(set(brands or []))
        session.add(chosen)
        after.update(new_cases=new_cases, sla_warnings=sla_warnings, assignments=assignments,
                     countries=chosen.countries, brands=chosen.brands)
    session.flush()
    if before != after:
        record(session, actor=actor, action="user.emails", entity_type="user",
               entity_id=row.id, before=before, after=after)
