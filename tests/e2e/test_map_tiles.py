"""The maps on an operator's tiles (MAP_TILE_URL, MAP_TILE_ATTRIBUTION): the desk's map and the
request form's draw the tiles the template names, with the operator's credit. The tile server
is the browser's own route here: nothing leaves the machine."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TILES = "https://tiles.example.org/{z}/{x}/{y}.png"
CREDIT = "© Example Tiles"
SERVER_ENV = {"MAP_TILE_URL": TILES, "MAP_TILE_ATTRIBUTION": CREDIT, "MAP_TILE_CRS": "wgs84"}
# A 1×1 grey PNG: every tile.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGM4AwAAzgDN1GaQsAAAAABJRU5ErkJggg==")
TILE_URL = re.compile(r"^https://tiles\.example\.org/\d+/\d+/\d+\.png$")


def serve_tiles(page: Page) -> list[str]:
    asked: list[str] = []

    def tile(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=PNG)

    page.context.route("https://tiles.example.org/**", tile)
    return asked


def test_the_maps_draw_the_operators_tiles_with_their_credit(open_as, categories, world, resident, secretary):
    desk = open_as(secretary)
    asked = serve_tiles(desk)
    desk.goto("/desk/")
    canvas = desk.locator("#desk-map-canvas")
    expect(canvas.locator("img.leaflet-tile-loaded").first).to_be_visible()
    expect(canvas).not_to_have_class(re.compile("map-plain"))
    expect(canvas.locator(".leaflet-control-attribution")).to_contain_text(CREDIT)
    assert asked and all(TILE_URL.match(url) for url in asked), asked

    phone = open_as(resident, phone=True)
    asked = serve_tiles(phone)
    phone.goto("/orders/new")
    pin_map = phone.locator("#pin-map")
    pin_map.scroll_into_view_if_needed()
    expect(pin_map.locator("img.leaflet-tile-loaded").first).to_be_visible()
    expect(pin_map.locator(".leaflet-control-attribution")).to_contain_text(CREDIT)
    expect(pin_map).to_have_attribute("data-crs", "wgs84")
    assert asked and all(TILE_URL.match(url) for url in asked), asked
