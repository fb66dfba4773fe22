"""The maps on the pages, through Django's test client: the pin on the request form lands
where the resident put it, in WGS-84 whatever the tiles' datum; an order's place is on its
page only for whom may see its address."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from core.gcj02 import to_gcj02
from core.geo import distance_m
from orders import services
from orders.models import Order
from tests.factories import BASE_LAT, BASE_LNG

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def json_script(page: str, name: str):
    found = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1)) if found else None


def ask(resident, **where) -> Order:
    response = signed_in(resident).post(
        "/orders/new", {"category": "errands", "description": "Bread", "urgency": "normal", **where}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Order.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_a_pin_on_a_plain_or_wgs84_map_is_stored_where_it_was_put(resident, settings):
    settings.MAP_TILE_CRS = "wgs84"
    order = ask(resident, pin_lat=BASE_LAT + 0.001, pin_lng=BASE_LNG + 0.002, lat=BASE_LAT, lng=BASE_LNG)
    assert (order.lat, order.lng) == pytest.approx((BASE_LAT + 0.001, BASE_LNG + 0.002))


def test_a_pin_on_gcj02_tiles_is_shifted_back_to_wgs84(resident, settings):
    settings.MAP_TILE_CRS = "gcj02"
    door = (BASE_LAT + 0.001, BASE_LNG + 0.002)
    on_the_tiles = to_gcj02(*door)  # where the resident sees their door on a Chinese map
    order = ask(resident, pin_lat=round(on_the_tiles[0], 6), pin_lng=round(on_the_tiles[1], 6))
    assert distance_m(order.lat, order.lng, *door) < 0.2  # the pin's own rounding: 1e-6 degrees
    assert distance_m(*on_the_tiles, *door) > 300  # unshifted it would be a street away


def test_the_phone_position_is_stored_as_it_is_on_a_gcj02_map(resident, settings):
    settings.MAP_TILE_CRS = "gcj02"
    order = ask(resident, lat=BASE_LAT + 0.001, lng=BASE_LNG)
    assert (order.lat, order.lng) == pytest.approx((BASE_LAT + 0.001, BASE_LNG))


def test_the_form_map_opens_on_the_residents_home_with_the_grids(resident, world, settings):
    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    settings.MAP_TILE_ATTRIBUTION = "© Example"
    page = signed_in(resident).get("/orders/new").content.decode()
    assert json_script(page, "map-config")["tiles"] == "https://tiles.example.org/{z}/{x}/{y}.png"
    start = json_script(page, "pin-start")
    assert start["home"] == [BASE_LAT, BASE_LNG]
    assert {g["name"] for g in start["grids"]} == {"North grid", "South grid"}
    assert 'id="pin-map"' in page and 'name="pin_lat"' in page


def test_the_place_comes_in_the_live_part_of_the_page_once_claimed(resident, volunteer, submit, advance):
    order = advance(submit(lat=BASE_LAT + 0.0011, lng=BASE_LNG), "dispatched")
    fragment = f"/orders/{order.pk}/?fragment=live"
    assert json_script(signed_in(volunteer).get(fragment).content.decode(), "order-place") is None
    services.order_claim(order_id=order.pk, user=volunteer)
    assert json_script(signed_in(volunteer).get(fragment).content.decode(), "order-place") is not None


def test_an_offered_volunteer_sees_no_place_the_one_who_claims_it_does_until_they_release_it(
    resident, secretary, volunteer, submit, advance
):
    order = advance(submit(lat=BASE_LAT + 0.0011, lng=BASE_LNG), "dispatched")
    offered = signed_in(volunteer).get(f"/orders/{order.pk}/").content.decode()
    assert json_script(offered, "order-place") is None
    assert f"{BASE_LAT + 0.0011:.4f}" not in offered

    services.order_claim(order_id=order.pk, user=volunteer)
    held = signed_in(volunteer).get(f"/orders/{order.pk}/").content.decode()
    assert json_script(held, "order-place")["point"] == [round(BASE_LAT + 0.0011, 5), BASE_LNG]

    services.order_release(order_id=order.pk, user=volunteer, reason="Cannot go after all")
    released = signed_in(volunteer).get(f"/orders/{order.pk}/")
    assert released.status_code == 404 or json_script(released.content.decode(), "order-place") is None


def test_the_desk_page_carries_the_map(secretary, world):
    page = signed_in(secretary).get("/desk/").content.decode()
    assert 'id="desk-map"' in page and 'data-src="/api/v1/desk/map"' in page
    assert json_script(page, "map-config") == {
        "tiles": "",
        "attribution": "",
        "crs": "wgs84",
        "zoom_in": "放大",
        "zoom_out": "缩小",
    }
