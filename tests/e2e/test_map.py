"""The maps as people use them: the desk's map (live, with an order's candidates), the pin on
the resident's form, the place on a volunteer's task once claimed and never before."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orders import services
from orders.models import Order
from tests.e2e.conftest import open_desk
from tests.factories import BASE_LAT, BASE_LNG
from volunteers.services import volunteer_record_location

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

POLYGON_NORTH = [
    [BASE_LAT - 0.006, BASE_LNG - 0.008],
    [BASE_LAT - 0.006, BASE_LNG + 0.008],
    [BASE_LAT + 0.008, BASE_LNG + 0.008],
    [BASE_LAT + 0.008, BASE_LNG - 0.008],
]


def submitted(resident, text: str, *, urgency: str = "normal", north: float = 0.0) -> Order:
    order, _ = services.order_submit(
        resident=resident,
        data=services.OrderInput(
            category="errands", description=text, urgency=urgency, lat=BASE_LAT + north, lng=BASE_LNG
        ),
    )
    return order


@pytest.fixture
def outlined(world):
    world.north.polygon = POLYGON_NORTH
    world.north.save()
    return world


def test_the_desk_map_shows_requests_by_state_live_and_an_order_with_its_candidates(
    open_as, categories, outlined, resident, secretary, volunteer, volunteer2, screenshots
):
    urgent = submitted(resident, "Fell at home, cannot get up", urgency="urgent", north=0.001)
    calm = services.order_accept(order_id=submitted(resident, "Fetch bread", north=-0.002).pk, user=secretary)
    volunteer_record_location(user_id=volunteer.pk, lat=BASE_LAT + 0.003, lng=BASE_LNG + 0.002)
    # Accepted a day ago and still not dispatched: overdue.
    Order.objects.filter(pk=calm.pk).update(reviewed_at=timezone.now() - timedelta(days=1))

    desk = open_as(secretary)
    desk.goto("/desk/")
    canvas = desk.locator("#desk-map-canvas")
    expect(canvas).to_have_class(re.compile("map-plain"))  # no tiles configured: nothing fetched
    expect(canvas.locator(".map-pin")).to_have_count(2)
    pin = canvas.locator(f'.map-pin[data-order="{urgent.pk}"]')
    expect(pin).to_have_class(re.compile("state-submitted.*is-urgent"))
    expect(pin).to_have_text("!")
    expect(canvas.locator(f'.map-pin[data-order="{calm.pk}"]')).to_have_class(re.compile("state-accepted.*is-overdue"))
    expect(canvas.locator(f'[data-volunteer="{volunteer.volunteer.pk}"]')).to_have_count(1)
    expect(canvas.locator("path.leaflet-interactive, path")).not_to_have_count(0)  # the grid's outline
    expect(canvas.locator(".map-area-label")).to_have_text("North grid")

    # A new request arrives over the desk's socket (sent through the server, as a phone would):
    # a new pin, no reload.
    expect(desk.locator("#live-status")).to_have_attribute("data-state", "on")
    phone = open_desk(open_as, resident)
    token = next(c["value"] for c in phone.context.cookies() if c["name"] == "csrftoken")
    answer = phone.request.post(
        "/api/v1/orders",
        data=json.dumps(
            {"category": "errands", "description": "Change a bulb", "lat": BASE_LAT + 0.002, "lng": BASE_LNG}
        ),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
    )
    assert answer.status == 201, answer.text()
    late = answer.json()["id"]
    expect(canvas.locator(".map-pin")).to_have_count(3)
    expect(canvas.locator(f'.map-pin[data-order="{late}"]')).to_have_class(re.compile("state-submitted"))

    # A click opens the accepted one beside the map with its candidates; the one who shares a
    # position is numbered on the map.
    canvas.locator(f'.map-pin[data-order="{calm.pk}"]').click()
    detail = desk.locator("#desk-map-detail")
    expect(detail.locator("h3")).to_contain_text(f"#{calm.pk}")
    expect(detail.locator(".map-candidates li")).to_have_count(2)
    expect(detail.locator(f'.map-candidates li[data-volunteer="{volunteer2.volunteer.pk}"]')).to_contain_text(
        "未共享位置"
    )
    expect(canvas.locator(f'[data-rank][data-volunteer="{volunteer.volunteer.pk}"]')).to_have_count(1)
    desk.screenshot(path=str(screenshots / "desk-map.png"))
    detail.get_by_role("link", name="打开这条求助").click()
    expect(desk).to_have_url(re.compile(f"/orders/{calm.pk}/$"))


def test_a_resident_taps_the_map_to_put_the_pin_then_uses_their_location_instead(
    open_as, categories, world, resident, screenshots
):
    phone = open_as(resident, phone=True, geolocation={"latitude": BASE_LAT + 0.0015, "longitude": BASE_LNG - 0.001})
    phone.goto("/orders/new")
    phone.locator('label.choice:has-text("跑腿代购")').click()
    phone.get_by_label("请描述您的需求").fill("Please buy rice")
    pin_map = phone.locator("#pin-map")
    expect(pin_map.locator(".map-area-label")).to_have_text(["North grid", "South grid"])
    pin_map.scroll_into_view_if_needed()
    box = pin_map.bounding_box()
    phone.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    expect(pin_map.locator(".map-pin-here")).to_have_count(1)
    expect(phone.locator("#locate-status")).to_contain_text("已放置图钉")
    pin = (float(phone.input_value("#id_pin_lat")), float(phone.input_value("#id_pin_lng")))
    assert phone.input_value("#id_lat") == ""
    phone.screenshot(path=str(screenshots / "pin-on-the-form.png"))

    # The phone's own position replaces the pin (and moves it there).
    phone.get_by_role("button", name="使用我当前的位置").click()
    expect(phone.locator("#locate-status")).to_contain_text("✓")
    expect(phone.locator("#id_lat")).to_have_value(f"{BASE_LAT + 0.0015:.6f}")
    assert phone.input_value("#id_pin_lat") == ""
    phone.get_by_role("button", name="提交诉求").click()
    expect(phone).to_have_url(re.compile(r"/orders/\d+/$"))
    order = Order.objects.get(resident=resident)
    assert (order.lat, order.lng) == pytest.approx((BASE_LAT + 0.0015, BASE_LNG - 0.001))

    # A second request placed by the pin alone is stored where the pin was (a plain, WGS-84 map).
    phone.goto("/orders/new")
    phone.locator('label.choice:has-text("跑腿代购")').click()
    phone.get_by_label("请描述您的需求").fill("Please buy oil")
    pin_map = phone.locator("#pin-map")
    pin_map.scroll_into_view_if_needed()
    box = pin_map.bounding_box()
    phone.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6)
    tapped = (float(phone.input_value("#id_pin_lat")), float(phone.input_value("#id_pin_lng")))
    # …then moved: dragged a little up and to the right, where the door really is.
    here = pin_map.locator(".map-pin-here").bounding_box()
    phone.mouse.move(here["x"] + here["width"] / 2, here["y"] + here["height"] / 2)
    phone.mouse.down()
    phone.mouse.move(here["x"] + here["width"] / 2 + 40, here["y"] + here["height"] / 2 - 30, steps=8)
    phone.mouse.up()
    expect(phone.locator("#id_pin_lat")).not_to_have_value(str(tapped[0]))
    pin = (float(phone.input_value("#id_pin_lat")), float(phone.input_value("#id_pin_lng")))
    assert pin[0] > tapped[0] and pin[1] > tapped[1]  # north and east of the tap
    expect(pin_map.locator(".map-pin-here")).to_have_count(1)
    phone.get_by_role("button", name="提交诉求").click()
    expect(phone).to_have_url(re.compile(r"/orders/\d+/$"))
    second = Order.objects.filter(resident=resident).latest("id")
    assert (second.lat, second.lng) == pytest.approx(pin, abs=1e-6)


def test_the_volunteer_sees_the_place_on_a_map_once_they_claim_never_before(
    open_as, categories, world, resident, secretary, volunteer, screenshots
):
    order = services.order_accept(
        order_id=submitted(resident, "Carry the shopping upstairs", north=0.001).pk, user=secretary
    )
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    phone = open_as(volunteer, phone=True)
    phone.goto(f"/orders/{order.pk}/")
    expect(phone.locator("#live-status")).to_have_attribute("data-state", "on")
    expect(phone.locator("#order-map")).to_be_hidden()
    assert phone.locator("#order-place").count() == 0
    assert f"{BASE_LAT + 0.001:.5f}" not in phone.content()

    phone.get_by_role("button", name="接单").click()
    expect(phone.locator("#order-map")).to_be_visible()
    expect(phone.locator("#order-map .map-pin-here")).to_have_count(1)
    expect(phone.locator("#order-map .map-area-label")).to_have_text("North grid")
    phone.screenshot(path=str(screenshots / "task-map.png"))
