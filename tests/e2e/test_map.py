"""The maps as people use them: the desk's map (live, with an order's candidates), the pin on
the resident's form, the place on a volunteer's task once claimed and never before."""

from __future__ import annotations

import json
import re

import pytest
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

    desk = open_as(secretary)
    desk.goto("/desk/")
    canvas = desk.locator("#desk-map-canvas")
    expect(canvas).to_have_class(re.compile("map-plain"))  # no tiles configured: nothing fetched
    expect(canvas.locator(".map-pin")).to_have_count(2)
    pin = canvas.locator(f'.map-pin[data-order="{urgent.pk}"]')
    expect(pin).to_have_class(re.compile("state-submitted.*is-urgent"))
    expect(pin).to_have_text("!")
    expect(canvas.locator(f'.map-pin[data-order="{calm.pk}"]')).to_have_class(re.compile("state-accepted"))
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
