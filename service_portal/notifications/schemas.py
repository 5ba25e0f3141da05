"""Shape of an owner's recall alert subscription (CONTRACT section 11)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import fields
from ..config import SUPPORTED_LOCALES


class AlertRequest(BaseModel):
    """Which car (a VIN, or a model and its year), where it is registered (optional), the
    address and language of the alerts, and consent, which must be true. That a car is
    named at all is the service's rule (`alerts.subscribe`), as for cases."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    vin: str | None = Field(default=None, max_length=40)
    model: str | None = Field(default=None, max_length=80)
    year: int | None = Field(default=None, ge=1990, le=2100)
    email: str = Field(min_length=3, max_length=254)
    locale: str | None = Field(default=None, max_length=10)
    country: str | None = Field(default=None, max_length=2)
    consent: Literal[True]

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return fields.email(value).lower()

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return fields.country(value) if value else None

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        if value and value not in SUPPORTED_LOCALES:
            raise ValueError(f"one of {', '.join(SUPPORTED_LOCALES)}")
        return value or None

    @field_validator("vin", "model")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None
