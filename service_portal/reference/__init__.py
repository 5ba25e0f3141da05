"""The reference catalog shipped with the package: brands, models, services and WMI codes
as readable CSV files, loaded by `service-portal init-db` (see `load.py`)."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

#: Where the shipped files live (package data: a non-editable install has them too).
REFERENCE_DIR = Path(__file__).resolve().parent


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number as a spreadsheet shows it, header = 1; values by column) per row."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [(number, row) for number, row in enumerate(csv.DictReader(handle), start=2)]


def wmi_brands_of(row: dict[str, str]) -> tuple[str, ...]:
    """The brand slugs of a `wmi.csv` row: space-separated in the file."""
    return tuple((row.get("brands") or "").split())


@lru_cache(maxsize=1)
def shipped_wmi_table() -> dict[str, tuple[str, ...]]:
    """WMI -> brand slugs as the shipped `wmi.csv` has them: what decoding a VIN uses
    where no database table is at hand (or none was loaded)."""
    return {row["code"].strip().upper(): wmi_brands_of(row)
            for _number, row in read_rows(REFERENCE_DIR / "wmi.csv")}
