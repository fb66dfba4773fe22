"""The maps on GCJ-02 tiles (MAP_TILE_CRS=gcj02, as with any provider licensed in mainland
China): the page draws each stored point where those tiles have it, with the same transform as
core/gcj02.py, and a pin dropped on them is stored back in WGS-84."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core.gcj02 import to_gcj02, to_wgs84
from core.geo import distance_m
from orders.models import Order
from tests.core.test_gcj02 import PUBLISHED
from tests.factories import BASE_LAT, BASE_LNG

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# This module's server draws on GCJ-02 tiles; no tile URL, so nothing is fetched.
SERVER_ENV = {"MAP_TILE_CRS": "gcj02", "MAP_TILE_URL": ""}


def test_the_page_shifts_points_as_the_server_does(open_as, categories, world, resident):
    page = open_as(resident)
    page.goto("/orders/new")
    expect(page.locator("#pin-map")).to_have_attribute("data-crs", "gcj02")
    points = [wgs for wgs, _gcj in PUBLISHED] + [(BASE_LAT, BASE_LNG), (51.5074, -0.1278)]
    drawn = page.evaluate("(points) => points.map((p) => window.SandanMap.shown(p))", [list(p) for p in points])
    for point, shown in zip(points, drawn, strict=True):
        assert shown == pytest.approx(list(to_gcj02(*point)), abs=1e-9)
    for (_wgs, gcj), shown in zip(PUBLISHED, drawn, strict=False):
        assert shown == pytest.approx(list(gcj), abs=1e-9)  # the published points themselves


def test_a_pin_on_gcj02_tiles_is_stored_in_wgs84(open_as, categories, world, resident):
    phone = open_as(resident, phone=True)
    phone.goto("/orders/new")
    phone.locator('label.choice:has-text("跑腿代购")').click()
    phone.get_by_label("请描述您的需求").fill("Please buy rice")
    pin_map = phone.locator("#pin-map")
    pin_map.scroll_into_view_if_needed()
    box = pin_map.bounding_box()
    phone.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(pin_map.locator(".map-pin-here")).to_have_count(1)
    pin = (float(phone.input_value("#id_pin_lat")), float(phone.input_value("#id_pin_lng")))
    phone.get_by_role("button", name="提交诉求").click()
    expect(phone).to_have_url(re.compile(r"/orders/\d+/$"))
    order = Order.objects.get(resident=resident)
    assert distance_m(order.lat, order.lng, *to_wgs84(*pin)) < 0.01
    # Where the resident saw it on the map is some hundreds of metres from the stored point:
    # the shift the tiles carry, and it is undone.
    assert distance_m(order.lat, order.lng, *pin) > 300
