"""Generate seed/stock.csv deterministically from seed/shops.csv and seed/parts.csv."""

import csv
import random
import sys
import zlib
from pathlib import Path

SEED = Path(__file__).resolve().parent

# Currency per country (ISO 3166-1 alpha-2) and fixed demo rates in units per 1 EUR.
_CURRENCIES = """
EUR 1.0 AT BE BG CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK AD MC ME SM XK
NOK 11.7 NO | SEK 11.2 SE | DKK 7.46 DK | ISK 150 IS | GBP 0.85 GB | CHF 0.94 CH LI | PLN 4.3 PL
CZK 25 CZ | HUF 400 HU | RON 5.0 RO | RSD 117 RS | TRY 38 TR | ILS 4.0 IL | SAR 4.1 SA | AED 4.0 AE
QAR 4.0 QA | KWD 0.34 KW | BHD 0.41 BH | OMR 0.42 OM | JOD 0.78 JO | EGP 54 EG | MAD 10.8 MA
ZAR 20 ZA | SGD 1.45 SG | MYR 5.0 MY | THB 38 TH | IDR 17500 ID | PHP 63 PH | VND 27500 VN
HKD 8.5 HK | TWD 35 TW | JPY 162 JP | KRW 1500 KR | INR 92 IN | PKR 305 PK | LKR 325 LK
AUD 1.65 AU | NZD 1.8 NZ | MXN 20.5 MX | BRL 6.0 BR | CLP 1030 CL | COP 4500 CO | PEN 4.1 PE
UYU 45 UY | ARS 1150 AR | CRC 550 CR | USD 1.08 US EC PA | CAD 1.5 CA | KZT 540 KZ | UZS 13800 UZ
"""
CURRENCY: dict[str, str] = {}
RATE: dict[str, float] = {}
for _entry in _CURRENCIES.replace("\n", "|").split("|"):
    if _entry.strip():
        _code, _rate, *_countries = _entry.split()
        RATE[_code] = float(_rate)
        CURRENCY.update(dict.fromkeys(_countries, _code))
WHOLE = set("IDR CLP JPY KRW VND COP HUF ISK KHR UZS KZT ARS CRC".split())  # priced in whole units
# Base EUR price range per category, and keyword overrides for notably cheap or dear parts.
CATEGORY_EUR: dict[str, tuple[float, float]] = {
    "brakes": (45, 260),
    "filters": (18, 65),
    "electrical": (35, 900),
    "hv-battery": (180, 2400),
    "charging": (90, 1600),
    "thermal": (60, 1300),
    "suspension": (70, 650),
    "body": (25, 900),
    "glass": (250, 1400),
    "adas": (180, 1500),
    "lighting": (40, 1300),
    "interior": (30, 900),
    "tyres-wheels": (15, 480),
    "drivetrain": (20, 3200),
    "service-kit": (60, 240),
}
KEYWORD_EUR: dict[str, tuple[float, float]] = {
    "Wiper": (28, 55),
    "fluid": (12, 22),
    "Coolant, OAT": (28, 45),
    "gear oil": (18, 30),
    "Horn": (25, 60),
    "reading lamp": (20, 45),
    "centre cap": (12, 25),
    "Wheel bolt": (30, 60),
    "Tyre pressure": (45, 85),
    "12V auxiliary": (140, 260),
    "key fob": (180, 340),
    "electric drive unit": (2900, 4800),
    "control arm": (120, 260),
    "A/C compressor": (900, 1700),
    "lidar": (1800, 3200),
    "22 kW": (1500, 2400),
    "Battery management": (700, 1400),
    "V2L": (120, 220),
    "charging cable": (190, 320),
}


def base_eur(part: dict[str, str]) -> float:
    """Deterministic base price in EUR derived from keywords or the category."""
    default = CATEGORY_EUR[part["category"]]
    lo, hi = next((r for k, r in KEYWORD_EUR.items() if k in part["name"]), default)
    frac = zlib.crc32(part["part_number"].encode()) % 1000 / 999
    return lo + (hi - lo) * frac


def local_price(eur: float, currency: str) -> str:
    value = eur * RATE[currency]
    if currency in WHOLE:
        step = 100 if value > 10000 else 10 if value > 1000 else 1
        return f"{round(value / step) * step:.2f}"
    return f"{value:.2f}"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main() -> None:
    rng = random.Random(2026)
    shops = read_csv(SEED / "shops.csv")
    parts = read_csv(SEED / "parts.csv")
    by_brand: dict[str, list[dict[str, str]]] = {}
    for p in parts:
        by_brand.setdefault(p["brand"], []).append(p)
    cheap = {"filters", "brakes", "service-kit", "tyres-wheels", "body", "charging"}
    rows: list[list[str]] = []
    for shop in shops:
        if rng.random() >= 0.85:
            continue
        roles = dict(
            (b.split(":", 1) + ["independent"])[:2] for b in shop["brands"].split(";") if b
        )
        pool = [p for b in roles for p in by_brand.get(b, [])]
        country = shop["country"].strip().upper()
        currency = CURRENCY.get(country)
        if not pool or currency is None:
            if currency is None:
                print(
                    f"no currency for {country!r}: skipped {shop['external_id']}", file=sys.stderr
                )
            continue
        authorized = "authorized" in roles.values()
        n = min(len(pool), rng.randint(14, 30) if authorized else rng.randint(8, 22))
        current = [p for p in pool if not p["superseded_by"]]
        old = [p for p in pool if p["superseded_by"]]
        n_old = min(len(old), rng.choice([0, 0, 1, 1, 2, 3]))
        # weighted sampling without replacement (Efraimidis-Spirakis): consumables weigh 3x
        weight = {p["part_number"]: 3.0 if p["category"] in cheap else 1.0 for p in current}
        keyed = sorted(current, key=lambda p: -(rng.random() ** (1 / weight[p["part_number"]])))
        picked = keyed[: n - n_old] + rng.sample(old, n_old)
        markup = rng.uniform(0.92, 1.18)
        for p in sorted(picked, key=lambda p: p["part_number"]):
            eur = base_eur(p) * markup * (0.85 if p["superseded_by"] else 1.0)
            if rng.random() < 0.12:
                qty = 0
            elif eur > 600:
                qty = rng.randint(1, 3)
            elif eur > 150:
                qty = rng.randint(1, 8)
            else:
                qty = rng.randint(2, 40)
            price = local_price(eur, currency)
            rows.append([shop["external_id"], p["part_number"], str(qty), price, currency])
    with (SEED / "stock.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["shop_external_id", "part_number", "qty", "price", "currency"])
        w.writerows(rows)
    print(f"wrote {len(rows)} stock rows for {len({r[0] for r in rows})} of {len(shops)} shops")


if __name__ == "__main__":
    main()
