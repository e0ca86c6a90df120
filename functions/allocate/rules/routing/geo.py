"""Great-circle distance, rounded to whole km so every cost term stays an integer."""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = radians(lat1), radians(lat2)
    dphi, dlmb = phi2 - phi1, radians(lon2 - lon1)
    h = sin(dphi / 2) ** 2 + cos(phi1) * cos(phi2) * sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(h)))


def distance_km(lat: float, lon: float, to_lat: float | None, to_lon: float | None) -> int:
    """Whole km, half up; 0 when the destination has no coordinates."""
    if to_lat is None or to_lon is None:
        return 0
    return int(haversine_km(lat, lon, to_lat, to_lon) + 0.5)
