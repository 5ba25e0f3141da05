"""Row factories for tests: each call commits one realistic row with overridable fields."""

from __future__ import annotations

import itertools
from decimal import Decimal

from sqlmodel import Session

from service_portal.catalog.models import Brand, Service, VehicleModel
from service_portal.parts.models import Part, Stock
from service_portal.shops.models import Organization, Shop, ShopBrand, ShopLanguage, ShopService

_seq = itertools.count(1)


class Factories:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _save(self, row):
        self.session.add(row)
        self.session.commit()
        return row

    def brand(self, slug: str | None = None, **kw) -> Brand:
        slug = slug or f"brand{next(_seq)}"
        return self._save(Brand(slug=slug, name=kw.pop("name", slug.upper()), **kw))

    def model(self, brand: Brand, slug: str | None = None, **kw) -> VehicleModel:
        values = {"name": "Model", "year_from": 2022, "powertrain": "bev",
                  "battery_chemistry": "lfp"} | kw
        return self._save(VehicleModel(slug=slug or f"{brand.slug}-m{next(_seq)}",
                                       brand_id=brand.id, **values))

    def service(self, slug: str | None = None) -> Service:
        slug = slug or f"service{next(_seq)}"
        return self._save(Service(slug=slug, name=slug))

    def org(self, slug: str | None = None) -> Organization:
        slug = slug or f"org{next(_seq)}"
        return self._save(Organization(slug=slug, name=slug.title(), country="DE"))

    def shop(self, org: Organization | None = None, *, brands=(), services=(), languages=(),
             **kw) -> Shop:
        org = org or self.org()
        n = next(_seq)
        values = {"external_id": f"shop-{n}", "name": f"Test Shop {n}", "country": "DE",
                  "lat": 50.11, "lon": 8.68, "timezone": "Europe/Berlin",
                  "opening_hours": "Mo-Fr 08:00-18:00"} | kw
        shop = self._save(Shop(organization_id=org.id, **values))
        for brand, level in brands:
            self.session.add(ShopBrand(shop_id=shop.id, brand_id=brand.id, level=level))
        for service in services:
            self.session.add(ShopService(shop_id=shop.id, service_id=service.id))
        for lang in languages:
            self.session.add(ShopLanguage(shop_id=shop.id, language=lang))
        self.session.commit()
        return shop

    def part(self, brand: Brand, part_number: str | None = None, **kw) -> Part:
        values = {"name": "Brake pad set", "category": "brakes"} | kw
        return self._save(Part(part_number=part_number or f"P-{next(_seq):05d}",
                               brand_id=brand.id, **values))

    def stock(self, shop: Shop, part: Part, qty: int = 5, **kw) -> Stock:
        values = {"price": Decimal("19.90"), "currency": "EUR"} | kw
        return self._save(Stock(shop_id=shop.id, part_id=part.id, qty=qty, **values))

    def user(self, role: str = "dealer", org: Organization | None = None, email: str | None = None,
             password: str | None = None):
        from service_portal.users.services import create_user

        n = next(_seq)
        user = create_user(self.session, email=email or f"{role}{n}@test.example", role=role,
                           organization=org.slug if org else None, password=password)
        self.session.commit()
        return user

    def token(self, user, name: str = "test") -> str:
        """A token stored as the service stores one, but without its audit entry (which
        tests of the audit trail would otherwise have to skip)."""
        from service_portal.security import hash_token, new_token
        from service_portal.users.models import ApiToken

        token = new_token()
        self._save(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token),
                            prefix=token[:12]))
        return token
