"""An action sent again with its idempotency key (a tap kept without signal and sent when the
phone is back online, or a lost answer) is taken once and answers as the first time."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from orders.actions import order_act
from orders.models import Attachment, IdempotencyKey, OrderEvent
from tests.orders.media import jpeg_bytes

pytestmark = pytest.mark.django_db


def test_replaying_a_key_does_not_act_twice_and_returns_the_first_result(submit, advance, volunteer):
    order = advance(submit(), "claimed")
    first = order_act(order_id=order.pk, user=volunteer, action="start", data={}, idempotency_key="tap-1")
    assert first.status == "in_progress" and not first.replayed
    done = order_act(
        order_id=order.pk,
        user=volunteer,
        action="complete",
        data={"note": "Fixed", "hours": "1.5"},
        idempotency_key="tap-2",
    )
    assert done.status == "completed"
    events = OrderEvent.objects.filter(order=order).count()

    # The start comes again (the page and its service worker both back online): no error about
    # the order having moved on, no second timeline row; the first answer.
    again = order_act(order_id=order.pk, user=volunteer, action="start", data={}, idempotency_key="tap-1")
    assert again.replayed and again.status == "in_progress"
    again = order_act(
        order_id=order.pk,
        user=volunteer,
        action="complete",
        data={"note": "Fixed", "hours": "1.5"},
        idempotency_key="tap-2",
    )
    assert again.replayed and again.status == "completed"
    order.refresh_from_db()
    assert order.status == "completed" and order.hours == 1.5
    assert OrderEvent.objects.filter(order=order).count() == events
    assert IdempotencyKey.objects.filter(user=volunteer).count() == 2


def test_without_a_key_the_second_start_is_refused(submit, advance, volunteer):
    order = advance(submit(), "claimed")
    order_act(order_id=order.pk, user=volunteer, action="start", data={})
    with pytest.raises(Exception) as raised:
        order_act(order_id=order.pk, user=volunteer, action="start", data={})
    assert getattr(raised.value, "code", "") == "invalid_transition"


def test_a_key_reused_for_another_action_or_body_is_refused(submit, advance, volunteer):
    order = advance(submit(), "in_progress")
    order_act(
        order_id=order.pk, user=volunteer, action="complete", data={"note": "A", "hours": "1"}, idempotency_key="k"
    )
    for action, data in [("complete", {"note": "B", "hours": "1"}), ("start", {})]:
        with pytest.raises(Exception) as raised:
            order_act(order_id=order.pk, user=volunteer, action=action, data=data, idempotency_key="k")
        assert getattr(raised.value, "code", "") == "idempotency_key_reused"


def test_a_refused_action_uses_no_key_and_says_where_the_order_is(submit, advance, volunteer, secretary):
    """The order was recalled to the desk while the volunteer's tap waited: refused (409),
    nothing recorded, so nothing is replayed as a success later."""
    order = advance(submit(), "dispatched")
    order_act(order_id=order.pk, user=secretary, action="recall", data={}, idempotency_key="desk-1")
    client = Client()
    client.force_login(secretary)
    answer = client.post(
        f"/orders/{order.pk}/accept", {"key": "desk-2"}, HTTP_ACCEPT="application/json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert answer.status_code == 409
    body = answer.json()
    assert body["code"] == "invalid_transition" and body["now"] == "支部已受理"  # "Accepted by the branch"
    assert not IdempotencyKey.objects.filter(key="desk-2").exists()


def test_the_page_and_the_api_take_a_resent_tap_once(submit, advance, volunteer, api):
    order = advance(submit(), "in_progress")
    client = Client()
    client.force_login(volunteer)
    body = {"note": "Carried the rice", "hours": "2", "key": "page-tap"}
    first = client.post(f"/orders/{order.pk}/complete", body, HTTP_ACCEPT="application/json")
    second = client.post(f"/orders/{order.pk}/complete", body, HTTP_ACCEPT="application/json")
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "completed"
    assert second.json()["replayed"] is True
    assert OrderEvent.objects.filter(order=order, action="complete").count() == 1

    other = advance(submit(), "claimed")
    phone = api(volunteer)
    answers = [
        phone.post(f"/api/v1/orders/{other.pk}/start", {}, format="json", HTTP_IDEMPOTENCY_KEY="api-tap")
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[1].data["status"] == "in_progress"
    assert OrderEvent.objects.filter(order=other, action="start").count() == 1


def test_a_resent_done_with_its_photo_keeps_one_photo(submit, advance, volunteer):
    """The queue sends "Done" with the photo taken without signal; sent twice (the answer was
    lost), the photo is attached once, with the action that was taken once."""
    order = advance(submit(), "in_progress")
    client = Client()
    client.force_login(volunteer)

    def done():
        photo = SimpleUploadedFile("after.jpg", jpeg_bytes(), content_type="image/jpeg")
        body = {"note": "Carried the rice", "hours": "1", "key": "queued-done", "photo": photo}
        return client.post(f"/orders/{order.pk}/complete", body, HTTP_ACCEPT="application/json")

    first, second = done(), done()
    assert first.status_code == second.status_code == 200, second.content
    assert (first.json()["replayed"], second.json()["replayed"]) == (False, True)
    assert Attachment.objects.filter(order=order, uploaded_by=volunteer, kind="photo").count() == 1
    assert OrderEvent.objects.filter(order=order, action="complete").count() == 1
