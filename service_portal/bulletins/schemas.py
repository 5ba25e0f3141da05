"""Shape of a bulletin as written by staff or loaded from seed/bulletins.json."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import fields
from ..config import SUPPORTED_LOCALES


class BulletinTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)
    summary: str = Field(min_length=1, max_length=2000)
    body: str = Field(min_length=1, max_length=20000)

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return fields.single_line_text(value)

    @field_validator("summary", "body")
    @classmethod
    def _text_block(cls, value: str) -> str:
        return fields.multi_line_text(value)


class BulletinIn(BaseModel):
    """CONTRACT section 6: the bulletin JSON with `texts` per locale (English required)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=3, max_length=40, pattern=r"^[A-Z0-9][A-Z0-9\-]+$")
    kind: Literal["recall", "tsb", "software"]
    brand: str = Field(min_length=1, max_length=40)
    models: list[str] = Field(default_factory=list, max_length=100)
    year_from: int | None = Field(default=None, ge=1990, le=2100)
    year_to: int | None = Field(default=None, ge=1990, le=2100)
    countries: list[str] = Field(default_factory=list, max_length=250)
    severity: Literal["low", "medium", "high", "critical"]
    published: date
    texts: dict[str, BulletinTextIn]

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        return sorted({fields.country(c) for c in value})

    @field_validator("texts")
    @classmethod
    def _locales(cls, value: dict[str, BulletinTextIn]) -> dict[str, BulletinTextIn]:
        unknown = sorted(set(value) - set(SUPPORTED_LOCALES))
        if unknown:
            raise ValueError(f"unsupported locales: {', '.join(unknown)}")
        if "en" not in value:
            raise ValueError("an English text ('en') is required")
        return value

    @model_validator(mode="after")
    def _years(self) -> BulletinIn:
        if self.year_from and self.year_to and self.year_to < self.year_from:
            raise ValueError("year_to is before year_from")
        return self
