"""Distances on the WGS-84 ellipsoid: exact geodesics and the cheap chords that bound them.

The search needs the exact geodesic (geographiclib, ~100 µs a call) only where it decides
membership or order. Everything else uses the straight chord between the two points in
Earth-centred coordinates (ECEF), which is cheap enough to compute for thousands of rows
at once and brackets the geodesic tightly:

    chord <= geodesic <= 2 R_MIN asin(chord / (2 R_MIN))

The lower bound holds because a straight line is the shortest path in space. The upper
bound is the arc of a circle through both points with the smallest radius of curvature
the ellipsoid has anywhere (R_MIN, the meridional radius at the equator); no curve on the
ellipsoid bends more, so the geodesic is no longer than that arc. The gap is
chord³ / (24 R_MIN²): 0.13 m at 50 km, 1 km at 1,000 km.
"""

from __future__ import annotations

import math

from geographiclib.geodesic import Geodesic

WGS84 = Geodesic.WGS84
A_KM = WGS84.a / 1000.0
E2 = WGS84.f * (2 - WGS84.f)
#: Smallest radius of curvature on the ellipsoid: the meridian at the equator, a(1 - e²).
R_MIN_KM = A_KM * (1 - E2)


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The exact geodesic distance on WGS-84, in kilometres."""
    return WGS84.Inverse(lat1, lon1, lat2, lon2, Geodesic.DISTANCE)["s12"] / 1000.0


def ecef_km(lat: float, lon: float) -> tuple[float, float, float]:
    """Earth-centred, Earth-fixed coordinates of a point on the ellipsoid surface, in km."""
    phi, lam = math.radians(lat), math.radians(lon)
    sin_phi, cos_phi = math.sin(phi), math.cos(phi)
    n = A_KM / math.sqrt(1 - E2 * sin_phi * sin_phi)
    return (n * cos_phi * math.cos(lam), n * cos_phi * math.sin(lam), n * (1 - E2) * sin_phi)


def geodesic_upper_bound_km(chord_km: float) -> float:
    """The longest the geodesic between two points this far apart (straight) can be."""
    return 2 * R_MIN_KM * math.asin(min(1.0, chord_km / (2 * R_MIN_KM)))


def chord_surely_within_km(radius_km: float) -> float:
    """Points whose chord is at most this are within `radius_km` along the ellipsoid."""
    return 2 * R_MIN_KM * math.sin(min(math.pi / 2, radius_km / (2 * R_MIN_KM)))


#: Largest error allowed in a reported distance: below it the chord's bounds are precise
#: enough to report their midpoint instead of computing the geodesic (100 µs a call).
REPORT_TOLERANCE_KM = 0.0005


def distance_from_chord_km(chord_km: float, slack_km: float = 0.0) -> float | None:
    """The geodesic length to within REPORT_TOLERANCE_KM from a chord known to within
    `slack_km` (the midpoint of its bounds), or None when the bounds are too far apart
    (chords beyond ~78 km)."""
    lower = max(0.0, chord_km - slack_km)
    upper = geodesic_upper_bound_km(chord_km + slack_km)
    if upper - lower > 2 * REPORT_TOLERANCE_KM:
        return None
    return (lower + upper) / 2
