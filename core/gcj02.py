"""WGS-84 ⇄ GCJ-02, for maps whose tiles are drawn in GCJ-02 (every map provider licensed in
mainland China). Sandan stores WGS-84 (what phones report); a map on GCJ-02 tiles shows each
point shifted by this transform (some hundreds of metres), and a pin dropped on such a map is
shifted back before it is stored (`MAP_TILE_CRS=gcj02`, docs/pages.md).

The forward transform is the published one (the same constants as the eviltransform libraries);
it has no closed-form inverse, so `to_wgs84` solves it by fixed-point iteration, to well under
a millimetre. Outside mainland China's rough bounding box GCJ-02 is WGS-84 unchanged.
Pure functions: nothing of Django. `web/static/web/map.js` carries the same forward transform
for drawing on the page (a test checks that both agree).
"""

from __future__ import annotations

import math

_A = 6378245.0  # the semi-major axis the transform uses (Krasovsky 1940)
_EE = 0.00669342162296594323  # its eccentricity squared


def out_of_china(lat: float, lng: float) -> bool:
    """Outside the box where GCJ-02 differs from WGS-84 (the published rule: a rectangle)."""
    return not (73.66 < lng < 135.05 and 3.86 < lat < 53.55)


def _lat_shift(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _lng_shift(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def _delta(lat: float, lng: float) -> tuple[float, float]:
    d_lat = _lat_shift(lng - 105.0, lat - 35.0)
    d_lng = _lng_shift(lng - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return d_lat, d_lng


def to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """A WGS-84 point as it is drawn on GCJ-02 tiles."""
    if out_of_china(lat, lng):
        return lat, lng
    d_lat, d_lng = _delta(lat, lng)
    return lat + d_lat, lng + d_lng


# Iterate until the forward transform of the estimate lands within this of the GCJ-02 point
# (1e-9 degrees is about 0.1 mm); the shift changes slowly, so it takes a handful of steps.
_PRECISION_DEG = 1e-9
_MAX_STEPS = 30


def to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """A point read off GCJ-02 tiles (a dropped pin) in WGS-84, as Sandan stores it."""
    if out_of_china(lat, lng):
        return lat, lng
    w_lat, w_lng = lat, lng
    for _ in range(_MAX_STEPS):
        g_lat, g_lng = to_gcj02(w_lat, w_lng)
        e_lat, e_lng = g_lat - lat, g_lng - lng
        if abs(e_lat) < _PRECISION_DEG and abs(e_lng) < _PRECISION_DEG:
            break
        w_lat, w_lng = w_lat - e_lat, w_lng - e_lng
    return w_lat, w_lng
