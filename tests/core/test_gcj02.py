"""WGS-84 ⇄ GCJ-02: the published points, the way back, and the world outside China."""

from __future__ import annotations

import random

import pytest

from core.gcj02 import out_of_china, to_gcj02, to_wgs84
from core.geo import distance_m

# The reference points every implementation is checked against (googollee/eviltransform's
# tests, the same in its Go, Python, C#, Ruby and Haskell versions): WGS-84 → GCJ-02.
PUBLISHED = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED)
def test_a_published_point_is_drawn_where_the_reference_says(wgs, gcj):
    assert to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED)
def test_a_pin_on_a_published_point_comes_back_to_the_phone_coordinates(wgs, gcj):
    back = to_wgs84(*gcj)
    assert distance_m(*back, *wgs) < 0.01  # under a centimetre


def test_the_shift_in_a_city_is_hundreds_of_metres_which_is_why_it_matters():
    shanghai = (31.2300, 121.4700)
    assert 300 < distance_m(*shanghai, *to_gcj02(*shanghai)) < 700


def test_the_way_back_is_exact_everywhere_in_china():
    rng = random.Random(20261206)
    worst = 0.0
    for _ in range(2000):
        lat, lng = rng.uniform(18.0, 53.0), rng.uniform(74.0, 135.0)
        back = to_wgs84(*to_gcj02(lat, lng))
        worst = max(worst, distance_m(lat, lng, *back))
    assert worst < 0.01


@pytest.mark.parametrize(
    "point",
    [(39.7392, -104.9903), (-27.4698, 153.0251), (-22.9068, -43.1729), (51.5074, -0.1278), (0.0, 0.0)],
    ids=["Denver", "Brisbane", "Rio", "London", "null island"],
)
def test_outside_china_nothing_moves(point):
    assert out_of_china(*point)
    assert to_gcj02(*point) == point
    assert to_wgs84(*point) == point
