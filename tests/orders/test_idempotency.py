"""`Idempotency-Key` on POST /api/v1/orders: a phone that lost the response and retries gets
the same order back, never a second one; reusing a key for something else is refused."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from notifications.models import Event
from orders.models import Category, IdempotencyKey, Order, OrderEvent
from tests.factories import ResidentProfileFactory

BODY = {"category": "errands", "description": "Two bags of rice, please."}


def post(client, body=BODY, key: str | None = "tap-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/orders", body, format="json", **headers)


@pytest.mark.django_db
def test_same_key_same_body_returns_the_same_order(api, resident):
    client = api(resident)
    first = post(client)
    assert first.status_code == 201
    events = Event.objects.count()
    retry = post(client)
    assert retry.status_code == 200
    assert retry.data["id"] == first.data["id"]
    assert retry.data["timeline"] == first.data["timeline"]
    assert Order.objects.count() == 1
    assert OrderEvent.objects.filter(order_id=first.data["id"]).count() == 1
    # Nobody is told twice about one request.
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_same_key_different_body_is_refused(api, resident):
    client = api(resident)
    assert post(client).status_code == 201
    for changed in [
        {**BODY, "description": "Three bags of rice, please."},
        {**BODY, "urgency": "urgent"},
        {**BODY, "category": "repair"},
    ]:
        response = post(client, changed)
        assert response.status_code == 409
        assert response.data["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_body_does_not_use_up_the_key(api, resident):
    client = api(resident)
    assert post(client, {**BODY, "description": ""}).status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(client).status_code == 201


@pytest.mark.django_db
def test_keys_belong_to_their_user(api, resident, other_resident):
    mine = post(api(resident))
    theirs = post(api(other_resident))
    assert mine.status_code == theirs.status_code == 201
    assert mine.data["id"] != theirs.data["id"]
    # And a different body under the same key from someone else is no conflict either.
    assert post(api(other_resident), {**BODY, "description": "Other"}, key="tap-2").status_code == 201
    assert Order.objects.count() == 3
    # The other user's order is not reachable through my key.
    assert post(api(resident)).data["id"] == mine.data["id"]


@pytest.mark.django_db
def test_without_a_key_every_post_is_a_new_order(api, resident):
    client = api(resident)
    ids = {post(client, key=None).data["id"] for _ in range(2)}
    assert len(ids) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_creates_exactly_one_order(world):
    """Eight taps of the same request at the same instant, each on its own connection (24 posts
    in all, 3 orders: only created orders count against the rate limit)."""
    Category.objects.get_or_create(code="errands", defaults={"name": "Errands"})
    resident = ResidentProfileFactory(user__username="double-tapper", grid=world.north).user
    taps = 8
    barrier = threading.Barrier(taps)

    def tap(key: str) -> tuple[int, int | None]:
        client = APIClient()
        client.force_authenticate(resident)
        try:
            barrier.wait(timeout=30)
            response = post(client, key=key)
            return response.status_code, response.data.get("id")
        finally:
            connection.close()

    for round_key in ["same-key-a", "same-key-b", "same-key-c"]:
        with ThreadPoolExecutor(taps) as pool:
            results = list(pool.map(tap, [round_key] * taps))
        statuses = sorted(code for code, _id in results)
        assert statuses == [200] * (taps - 1) + [201], results
        assert len({order_id for _code, order_id in results}) == 1
    assert Order.objects.filter(resident=resident).count() == 3
    assert IdempotencyKey.objects.filter(user=resident).count() == 3
    for order in Order.objects.filter(resident=resident):
        assert OrderEvent.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_a_desk_reusing_its_key_for_another_resident_is_refused(api, staff, resident, other_resident):
    """Keys are the caller's: the same key and text for a different resident is a conflict,
    not the first resident's order handed back."""
    desk = api(staff)
    first = post(desk, {**BODY, "resident": resident.pk}, key="desk-1")
    assert first.status_code == 201
    assert post(desk, {**BODY, "resident": resident.pk}, key="desk-1").data["id"] == first.data["id"]
    other = post(desk, {**BODY, "resident": other_resident.pk}, key="desk-1")
    assert other.status_code == 409 and other.data["code"] == "idempotency_key_reused"
    # The resident's own key space is separate from the desk's.
    own = post(api(resident), BODY, key="desk-1")
    assert own.status_code == 201 and own.data["id"] != first.data["id"]
    assert Order.objects.count() == 2
