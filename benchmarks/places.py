"""Time the offline gazetteer (load, lookup, complete, suggest) and print a markdown table.

    python benchmarks/places.py --repeat 50

Each call is timed on its own; `suggest` is also shown on its first call per query, which
pays for the lazily built letter-pair signatures of the names it compares."""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable, Iterable

from service_portal.geo.gazetteer import get_gazetteer

LOOKUPS = [
    "München", "Muenchen", "MUNICH", "ميونخ", "CIUDAD DE MEXICO", "新加坡", "Sao Paulo",
    "Frankfurt", "Paris", "Москва", "東京", "서울", "Zürich", "København", "İstanbul",
    "Αθήνα", "मुंबई", "กรุงเทพมหานคร", "Kraków", "Qwzxyplonk",
]
PREFIXES = ["frank", "mün", "m", "san", "new y", "ber", "Моск", "東", "ミュンヘ", "sao p"]
MISSPELLINGS = [
    "Frnakfurt", "Muncih", "Sinagpore", "Barcelonna", "Manchestr", "sanfrancisko", "Kalkutta",
    "Los Angelos", "Johanesburg", "Stuttgrat",
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def timings_us(call: Callable[[str], object], queries: Iterable[str]) -> list[float]:
    times = []
    for query in queries:
        start = time.perf_counter_ns()
        call(query)
        times.append((time.perf_counter_ns() - start) / 1000)
    return times


def row(operation: str, times: list[float]) -> list[str]:
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
    return [operation, str(len(times)), f"{statistics.fmean(times):,.1f}", f"{p95:,.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="passes over each query list")
    repeat = parser.parse_args().repeat

    rss_before = rss_mb()
    start = time.perf_counter()
    gazetteer = get_gazetteer()
    load_s = time.perf_counter() - start
    rss_after = rss_mb()

    suggest_cold = timings_us(gazetteer.suggest, MISSPELLINGS)
    rows = [
        row("lookup", timings_us(gazetteer.lookup, LOOKUPS * repeat)),
        row("lookup, country=US", timings_us(lambda q: gazetteer.lookup(q, "US"),
                                             LOOKUPS * repeat)),
        row("complete (limit 10)", timings_us(gazetteer.complete, PREFIXES * repeat)),
        row("complete, country=DE", timings_us(lambda q: gazetteer.complete(q, "DE"),
                                               PREFIXES * repeat)),
        row("suggest, first call", suggest_cold),
        row("suggest", timings_us(gazetteer.suggest, MISSPELLINGS * max(1, repeat // 10))),
    ]
    print(f"{len(gazetteer.places):,} places; load {load_s:.2f} s; "
          f"max RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after loading\n")
    print("| operation | n | mean µs | p95 µs |")
    print("|---|---:|---:|---:|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
