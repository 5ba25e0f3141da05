"""Shapes of what owners, staff and shops send about a case (CONTRACT sections 4 and 6)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .. import fields
from ..config import SUPPORTED_LOCALES
from .models import CASE_STATUSES, PRIORITIES

_Text = Annotated[str, StringConstraints(strip_whitespace=True)]


class CaseRequest(BaseModel):
    """An owner's request for help. `phone` is checked for `country` and kept in E.164;
    `vin` or `model` says which car; `consent` must be true."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    vin: str | None = Field(default=None, max_length=40)
    model: str | None = Field(default=None, max_length=80)
    year: int | None = Field(default=None, ge=1990, le=2100)
    country: str = Field(min_length=2, max_length=2)
    place: str | None = Field(default=None, max_length=200)
    service: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=10, max_length=5000)
    shop_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    locale: str | None = Field(default=None, max_length=10)
    consent: Literal[True]

    @field_validator("name", "place")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return fields.single_line_text(value) if value else value

    @field_validator("description")
    @classmethod
    def _text_block(cls, value: str) -> str:
        return fields.multi_line_text(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return fields.email(value).lower()

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return fields.country(value)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        if value and value not in SUPPORTED_LOCALES:
            raise ValueError(f"one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("phone", "vin", "model", "place")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class CasePatch(BaseModel):
    """A staff change: any of the fields, with the `version` the change was based on."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    version: int = Field(ge=1, le=2**31 - 1)
    status: Literal[CASE_STATUSES] | None = None  # type: ignore[valid-type]
    priority: Literal[PRIORITIES] | None = None  # type: ignore[valid-type]
    assignee: str | None = Field(default=None, max_length=254)
    shop_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    bulletin_codes: list[Annotated[_Text, StringConstraints(max_length=40)]] | None = Field(
        default=None, max_length=50)


class NoteIn(BaseModel):
    """A note on a case: `internal` ones are for staff and shops, never shown to the owner."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    body: str = Field(min_length=1, max_length=5000)
    internal: bool = False

    @field_validator("body")
    @classmethod
    def _text_block(cls, value: str) -> str:
        return fields.multi_line_text(value)


class PrivacyRequest(BaseModel):
    """Whose data to export or erase: the owner's email (sent in a body, never a URL)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    email: str = Field(min_length=3, max_length=254)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return fields.email(value).lower()
