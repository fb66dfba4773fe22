"""The pages of "already reported nearby?", "this is mine too" and the desk's merge."""

from __future__ import annotations

import pytest
from django.test import Client

from orders import services
from orders.models import OrderFollower
from tests.factories import BASE_LAT, BASE_LNG, ResidentProfileFactory

pytestmark = pytest.mark.django_db

SECRET_PHONE = "13912345678"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def neighbour(world):
    return ResidentProfileFactory(user__username="neighbour", grid=world.north, lat=BASE_LAT + 0.001, lng=BASE_LNG).user


def submit(user, text, **extra):
    data = {"category": "repair", "description": text, "contact_phone": SECRET_PHONE, **extra}
    order, _ = services.order_submit(resident=user, data=services.OrderInput(**data))
    return order


def test_the_request_form_shows_what_is_already_reported_nearby(resident, neighbour):
    order = submit(resident, f"厨房水龙头漏水，电话 {SECRET_PHONE}")
    page = signed_in(neighbour).get("/orders/nearby", {"category": "repair", "text": "水龙头漏水"})
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-nearby="{order.pk}"' in html and "水龙头漏水" in html
    assert SECRET_PHONE not in html and str(resident) not in html
    assert f'data-follow="/orders/{order.pk}/follow"' in html
    # Another category: nothing to show.
    assert "data-nearby" not in signed_in(neighbour).get("/orders/nearby", {"category": "errands"}).content.decode()


def test_this_is_mine_too_follows_and_lists_the_request_masked(resident, neighbour):
    order = submit(resident, f"厨房水龙头漏水，电话 {SECRET_PHONE}")
    client = signed_in(neighbour)
    response = client.post(f"/orders/{order.pk}/follow")
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert OrderFollower.objects.filter(order=order, user=neighbour, source="mine_too").exists()
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'id="following-note"' in page and SECRET_PHONE not in page
    listed = client.get("/orders/").content.decode()
    assert f'data-order="{order.pk}"' in listed and SECRET_PHONE not in listed
    # The resident sees the +1 on their own request.
    assert 'id="order-followers"' in signed_in(resident).get(f"/orders/{order.pk}/").content.decode()


def test_the_desk_sees_duplicates_and_merges_from_the_order_page(resident, neighbour, secretary):
    survivor = submit(resident, "厨房水龙头漏水")
    duplicate = submit(neighbour, "水龙头一直在漏水")
    desk = signed_in(secretary)
    page = desk.get(f"/orders/{duplicate.pk}/").content.decode()
    assert f'data-duplicate="{survivor.pk}"' in page
    response = desk.post(f"/orders/{duplicate.pk}/merge", {"into": survivor.pk})
    assert response.status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.status == "merged"
    merged = signed_in(neighbour).get(f"/orders/{duplicate.pk}/").content.decode()
    assert 'id="merged-note"' in merged and f"/orders/{survivor.pk}/" in merged
    # The neighbour now follows the survivor, and the resident's phone stays theirs.
    followed = signed_in(neighbour).get(f"/orders/{survivor.pk}/").content.decode()
    assert 'id="following-note"' in followed and SECRET_PHONE not in followed
