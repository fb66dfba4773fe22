"""Geometry on the WGS-84 coordinates Sandan stores: the one definition of a distance, of a
point inside a grid's polygon, and of how precisely a distance is shown to people."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_000.0
# Shown distances are rounded to this: enough to judge a walk, too coarse to find a door.
SHOWN_DISTANCE_STEP_M = 100


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine); road distance is out of scope."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def shown_distance_m(meters: float) -> int:
    """A distance as people see it, on an offer, a candidate row or a page."""
    return int(round(meters / SHOWN_DISTANCE_STEP_M) * SHOWN_DISTANCE_STEP_M)


def point_in_polygon(lat: float, lng: float, polygon: list[list[float]]) -> bool:
    """Even-odd ray casting on [[lat, lng], ...]; fine at grid scale (hundreds of metres)."""
    inside = False
    n = len(polygon)
    for i in range(n):
        y1, x1 = polygon[i]
        y2, x2 = polygon[(i + 1) % n]
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lng < x_cross:
                inside = not inside
    return inside
