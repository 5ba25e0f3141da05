"""Integrity rules the database itself enforces, as the last line of defence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from service_portal.audit.actors import Actor
from service_portal.audit.services import record
from service_portal.cases.models import Case, CaseEvent
from service_portal.parts.models import Stock
from service_portal.users.models import User


def test_stock_quantity_cannot_go_negative(make, session):
    brand = make.brand()
    stock = make.stock(make.shop(), make.part(brand), qty=1)
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE stock SET qty = qty - 2 WHERE id = :id"), {"id": stock.id})
        session.flush()
    session.rollback()
    assert session.get(Stock, stock.id).qty == 1


def test_one_stock_row_per_shop_and_part(make, session):
    brand = make.brand()
    shop, part = make.shop(), make.part(brand)
    make.stock(shop, part)
    with pytest.raises(IntegrityError):
        make.stock(shop, part)


def test_stock_price_and_currency_are_checked(make, session):
    brand = make.brand()
    with pytest.raises(IntegrityError):
        make.stock(make.shop(), make.part(brand), price=-1)
    session.rollback()
    with pytest.raises(DBAPIError):  # PostgreSQL refuses the length before the CHECK
        make.stock(make.shop(), make.part(brand), currency="EURO")


def test_shop_coordinates_must_be_on_earth(make, session):
    with pytest.raises(IntegrityError):
        make.shop(lat=91.0)


def test_dealer_needs_an_organisation(session):
    session.add(User(email="d@x.example", role="dealer"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_unknown_role_is_refused(session):
    session.add(User(email="d@x.example", role="superuser"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_audit_log_is_append_only(session):
    entry = record(session, actor=Actor.command_line("test"), action="test",
                   entity_type="shop", entity_id=1)
    session.commit()
    with pytest.raises(DBAPIError):
        session.execute(text("UPDATE audit_log SET action = 'forged' WHERE id = :id"),
                        {"id": entry.id})
    session.rollback()
    with pytest.raises(DBAPIError):
        session.execute(text("DELETE FROM audit_log"))
    session.rollback()
    assert session.execute(text("SELECT action FROM audit_log")).scalar_one() == "test"


def test_case_events_are_append_only(make, session):
    service = make.service()
    case = Case(reference="SP-2026-ABCDEF", country="DE", service_id=service.id,
                consent_at=datetime.now(UTC))
    session.add(case)
    session.flush()
    session.add(CaseEvent(case_id=case.id, actor_label="owner", kind="created"))
    session.commit()
    with pytest.raises(DBAPIError):
        session.execute(text("UPDATE case_events SET kind = 'x'"))
    session.rollback()
    with pytest.raises(DBAPIError):
        session.execute(text("DELETE FROM case_events"))


def test_timestamps_come_back_timezone_aware(make, session):
    shop = make.shop()
    session.expire_all()
    assert session.get(type(shop), shop.id).created_at.tzinfo is not None


def test_naive_timestamps_are_refused(make, session):
    shop = make.shop()
    shop.updated_at = datetime(2026, 1, 1)
    session.add(shop)
    with pytest.raises(Exception, match="naive"):
        session.flush()
