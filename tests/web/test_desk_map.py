"""/api/v1/desk/map: what each desk's map shows, and what nobody else may see on it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import services
from tests.factories import BASE_LAT, BASE_LNG
from volunteers.models import LocationPing, Volunteer
from volunteers.services import volunteer_record_location, volunteer_update

pytestmark = pytest.mark.django_db

URL = "/api/v1/desk/map"


@pytest.fixture
def north_order(submit):
    # The resident's exact doorstep, more precisely than a desk needs it.
    return submit(lat=BASE_LAT + 0.0012345678, lng=BASE_LNG + 0.0009876543, urgency="urgent")


@pytest.fixture
def south_order(submit, other_resident):
    return submit(user=other_resident, lat=BASE_LAT - 0.02, lng=BASE_LNG)


@pytest.fixture
def sharing(volunteer, outsider_volunteer):
    """Both on-duty volunteers have just shared where they are."""
    volunteer_record_location(user_id=volunteer.pk, lat=BASE_LAT + 0.003, lng=BASE_LNG + 0.001)
    volunteer_record_location(user_id=outsider_volunteer.pk, lat=BASE_LAT - 0.021, lng=BASE_LNG)


def ids(rows):
    return {row["id"] for row in rows}


def test_the_secretary_sees_their_branch_orders_grid_and_volunteers(
    api, secretary, volunteer, north_order, south_order, sharing, world
):
    body = api(secretary).get(URL).json()
    assert ids(body["orders"]) == {north_order.pk}
    (order,) = body["orders"]
    assert order["status"] == "submitted" and order["urgent"] is True and order["overdue"] is False
    assert order["point"] == [round(north_order.lat, 5), round(north_order.lng, 5)]
    assert order["url"] == f"/orders/{north_order.pk}/"
    assert ids(body["areas"]) == {world.north.pk}
    assert [v["id"] for v in body["volunteers"]] == [volunteer.volunteer.pk]
    (shared,) = body["volunteers"]
    assert shared["point"] == [round(BASE_LAT + 0.003, 5), round(BASE_LNG + 0.001, 5)]
    assert shared["fresh"] is True and shared["minutes_ago"] == 0


def test_staff_see_every_branch_below_them(
    api, staff, volunteer, outsider_volunteer, north_order, south_order, sharing, world
):
    body = api(staff).get(URL).json()
    assert ids(body["orders"]) == {north_order.pk, south_order.pk}
    assert ids(body["areas"]) == {world.community.pk, world.north.pk, world.south.pk}
    assert {v["id"] for v in body["volunteers"]} == {volunteer.volunteer.pk, outsider_volunteer.volunteer.pk}
    only_south = api(staff).get(URL, {"branch": world.south_branch.pk}).json()
    assert ids(only_south["orders"]) == {south_order.pk}
    assert {v["id"] for v in only_south["volunteers"]} == {outsider_volunteer.volunteer.pk}


def test_another_branch_secretary_sees_none_of_this_branch(
    api, other_secretary, volunteer, north_order, south_order, sharing, world
):
    body = api(other_secretary).get(URL).json()
    assert north_order.pk not in ids(body["orders"])
    assert world.north.pk not in ids(body["areas"])
    assert volunteer.volunteer.pk not in {v["id"] for v in body["volunteers"]}
    # Naming the other branch gives an empty map, not its contents.
    named = api(other_secretary).get(URL, {"branch": world.north_branch.pk}).json()
    assert named == {"orders": [], "areas": [], "volunteers": []}


@pytest.mark.parametrize("who", ["resident", "volunteer", "outsider"])
def test_residents_volunteers_and_strangers_get_no_map(api, request, who, north_order, sharing):
    response = api(request.getfixturevalue(who)).get(URL)
    assert response.status_code == 403
    text = response.content.decode()
    assert "orders" not in response.json() and str(BASE_LAT + 0.003)[:7] not in text


def test_anonymous_callers_get_no_map(api, north_order):
    assert api().get(URL).status_code in {401, 403}


def test_an_off_duty_volunteer_is_not_on_the_map(api, secretary, volunteer, sharing):
    volunteer_update(user=volunteer, data={"on_duty": False})
    assert api(secretary).get(URL).json()["volunteers"] == []


def test_a_position_shared_over_an_hour_ago_is_left_off_and_an_older_than_ten_minutes_one_is_faded(
    api, secretary, volunteer, volunteer2
):
    now = timezone.now()
    for user, ago in ((volunteer, timedelta(minutes=25)), (volunteer2, timedelta(minutes=61))):
        v = Volunteer.objects.get(user=user)
        LocationPing.objects.create(volunteer=v, lat=BASE_LAT, lng=BASE_LNG, at=now - ago)
        Volunteer.objects.filter(pk=v.pk).update(live_at=now - ago)
    (shown,) = api(secretary).get(URL).json()["volunteers"]
    assert shown["id"] == volunteer.volunteer.pk and shown["fresh"] is False and shown["minutes_ago"] == 25


def test_finished_orders_leave_the_map(api, secretary, resident, north_order, advance):
    services.order_cancel(order_id=north_order.pk, user=resident, reason="No longer needed")
    assert api(secretary).get(URL).json()["orders"] == []


def test_a_dispatched_order_past_its_sla_is_flagged_overdue(api, secretary, north_order, advance, settings):
    advance(north_order, "dispatched")
    from orders.models import Order

    Order.objects.filter(pk=north_order.pk).update(
        updated_at=timezone.now() - timedelta(days=1), dispatched_at=timezone.now() - timedelta(days=1)
    )
    (order,) = api(secretary).get(URL).json()["orders"]
    assert order["status"] == "dispatched" and order["overdue"] is True
