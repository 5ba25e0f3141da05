"""Generate seed/cases.json deterministically: fictional owners' cases at seeded shops.

Each case lists when it came in (days before the seed runs) and the moves staff and shops
made and the notes they wrote, as hours after the request; `service-portal seed` replays
them through the case services, so the demo history, SLA clock and dashboard are what the
real rules produce, and the demo queue is always a current one."""

import csv
import json
import random
from pathlib import Path

SEED = Path(__file__).resolve().parent
REFERENCE = SEED.parent / "service_portal" / "reference"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
FIRST = ["Ingrid", "Lars", "Amira", "Yusuf", "Mei", "Carlos", "Sofia", "Noor", "Thanh",
         "Priya", "Jonas", "Fatima", "Kenji", "Ana", "Omar", "Elin", "Rafael", "Siti"]
LAST = ["Example", "Sample", "Placeholder", "Testperson", "Demo", "Fictive"]
PROBLEMS = {
    "hv-battery": "Battery warning light after fast charging; range dropped by a third.",
    "charging-system": "The car stops charging at 80 percent on every AC charger.",
    "software-ota": "The last over-the-air update failed and the screen stays black.",
    "adas-calibration": "Lane assist pulls to the left since the windscreen was replaced.",
    "recall-work": "I received a recall letter in Chinese and need the work done here.",
    "maintenance": "Annual service due; the local garage refuses to touch an EV.",
    "body-paint": "Rear bumper damaged in a car park; parking sensors no longer work.",
    "tyres": "Need winter tyres fitted; the wheel nuts need a special adapter.",
}
PATHS = [  # (status after each step, with the hours it took)
    [("triaged", 2), ("assigned", 6), ("in_repair", 30), ("resolved", 52), ("closed", 80)],
    [("triaged", 1), ("assigned", 4), ("waiting_parts", 20), ("in_repair", 140),
     ("resolved", 170)],
    [("triaged", 3), ("assigned", 9), ("in_repair", 26), ("resolved", 40)],
    [("triaged", 5), ("assigned", 12), ("waiting_parts", 30)],
    [("triaged", 2), ("assigned", 5), ("in_repair", 20)],
    [("triaged", 4)],
    [],
    [("triaged", 1), ("assigned", 3), ("in_repair", 10), ("resolved", 20), ("reopened", 60),
     ("assigned", 62), ("in_repair", 70), ("resolved", 90), ("closed", 120)],
]


#: Cases that show the markets' rules. An urgent Riyadh case opened on a Thursday afternoon
#: (the latest one before the seed runs: `opened_local`) is due on Sunday morning, the
#: Saudi weekend skipped; a German case closed 800 days ago is past Germany's retention
#: period (`service-portal retention --dry-run` lists it).
MARKET_CASES = [
    {"reference": "SP-2026-RYDWKND4", "days_ago": 0,
     "opened_local": {"weekday": 4, "time": "15:00", "zone": "Asia/Riyadh"},
     "name": "Yusuf Example", "email": "yusuf.riyadh@owner.example", "model": "byd-atto-3",
     "year": 2024, "country": "SA", "place": "Riyadh", "lat": 24.68773, "lon": 46.72185,
     "service": "hv-battery", "description": PROBLEMS["hv-battery"], "locale": "ar",
     "steps": [{"after_hours": 0.25, "status": "triaged", "priority": "urgent"}],
     "notes": []},
    {"reference": "SP-2024-RTNDEM01", "days_ago": 800, "name": "Jonas Placeholder",
     "email": "jonas.retention@owner.example", "model": "byd-dolphin", "year": 2023,
     "country": "DE", "place": "Frankfurt am Main", "lat": 50.11552, "lon": 8.68417,
     "service": "maintenance", "description": PROBLEMS["maintenance"], "locale": "de",
     "steps": [{"after_hours": 2, "status": "triaged"},
               {"after_hours": 6, "status": "assigned", "shop": "de-fra-001"},
               {"after_hours": 30, "status": "in_repair"},
               {"after_hours": 52, "status": "resolved"},
               {"after_hours": 80, "status": "closed"}],
     "notes": [{"after_hours": 7, "internal": False,
                "body": "A shop near you has taken on your car; they will call."}]},
]


def main() -> None:
    rng = random.Random(2026)
    shops = [row for row in csv.DictReader((SEED / "shops.csv").open(encoding="utf-8"))]
    models = [row for row in csv.DictReader((REFERENCE / "models.csv").open(encoding="utf-8"))]
    cases = []
    for number in range(1, 61):
        shop = rng.choice([s for s in shops if s["brands"]])
        brands = [pair.split(":")[0] for pair in shop["brands"].split(";")]
        fitting = [m for m in models if m["brand"] in brands] or models
        model = rng.choice(fitting)
        services = [s for s in shop["services"].split(";") if s in PROBLEMS] or ["maintenance"]
        service = rng.choice(services)
        path = PATHS[number % len(PATHS)] if number < 55 else PATHS[-3 + number % 3]
        last_hours = max([hours for _status, hours in path] + [0]) + 2
        if path and path[-1][0] in ("resolved", "closed"):  # finished: spread over 12 weeks
            days_ago = rng.uniform(last_hours / 24 + 1, 84)
        else:  # still open: recent, so the demo queue looks like a live one
            days_ago = last_hours / 24 + rng.uniform(0.05, 2.5)
        steps = []
        for status, hours in path:
            step = {"after_hours": hours, "status": status}
            if status == "assigned":
                step["shop"] = shop["external_id"]
            steps.append(step)
        if number % 5 == 0 and steps:
            steps[0]["priority"] = rng.choice(["high", "urgent", "low"])
        notes = []
        if len(path) >= 3:
            notes.append({"after_hours": path[1][1] + 1, "internal": False,
                          "body": "A shop near you has taken on your car; they will call."})
            notes.append({"after_hours": path[1][1] + 1, "internal": True,
                          "body": "Shop confirmed HV-qualified staff on site this week."})
        first = FIRST[number % len(FIRST)]
        code = "".join(rng.choice(ALPHABET) for _ in range(8))
        cases.append({
            "reference": f"SP-2026-{code}",
            "days_ago": round(days_ago, 3),
            "name": f"{first} {LAST[number % len(LAST)]}",
            "email": f"{first.lower()}.{number}@owner.example",
            "model": model["slug"],
            "year": max(int(model["year_from"]), 2023),
            "country": shop["country"],
            "place": shop["city"],
            "lat": float(shop["lat"]),
            "lon": float(shop["lon"]),
            "service": service,
            "description": PROBLEMS[service],
            "locale": rng.choice(["en", "de", "nb", "ar", "th", "pt_BR", "zh_Hans"]),
            "steps": steps,
            "notes": notes,
        })
    cases.extend(MARKET_CASES)
    out = SEED / "cases.json"
    out.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
