"""Why a shop matched: stable `match_reasons` codes the UI translates (see vocabulary)."""

from __future__ import annotations

from datetime import date

from .exact import SearchQuery, hv_is_valid


def match_reasons(doc: dict, query: SearchQuery, *, open_now: bool,
                  part_numbers: list[set[str]], today: date) -> list[str]:
    """The reasons, in a fixed order: brand level, parts, services, language, open, HV.

    `part_numbers` holds, per requested part, the numbers of the part itself (first
    element's set) and of its successors; a shop holding only a successor gets
    `successor_in_stock`."""
    reasons = []
    if query.brand_slug:
        level = next((b["level"] for b in doc["brands"] if b["brand"] == query.brand_slug),
                     None)
        if level:
            reasons.append(f"brand_{level}")
    in_stock = {p["part_number"] for p in doc["parts"]} if part_numbers else set()
    if in_stock:  # empty only when sold out since the search matched the shop
        exact = all(requested & in_stock for requested, _successors in part_numbers)
        reasons.append("part_in_stock" if exact else "successor_in_stock")
    if query.service_ids:
        reasons.append("offers_services")
    if query.language:
        reasons.append("speaks_language")
    if open_now:
        reasons.append("open_now")
    valid_until = date.fromisoformat(doc["hv_valid_until"]) if doc["hv_valid_until"] else None
    if hv_is_valid(doc["hv_level"], valid_until, today, query.hv_min or "1S"):
        reasons.append("hv_qualified")
    return reasons
