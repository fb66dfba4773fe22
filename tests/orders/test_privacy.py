"""The resident's phone, address and exact position reach only the resident, the responsible
desk (secretary, staff) and the volunteer currently assigned — nobody else, through any door:
order lists, order details, offers, notifications, error bodies and the outbox events the
phones receive (docs/design.md, "Events and privacy")."""

from __future__ import annotations

from typing import Any

import pytest

from notifications.models import Event, Notification
from orders import services
from tests.orders.conftest import SECRET_ADDRESS, SECRET_LAT, SECRET_PHONE, Cast, leaks

pytestmark = pytest.mark.django_db

PEOPLE = [
    "resident",
    "other_resident",
    "secretary",
    "other_secretary",
    "staff",
    "volunteer",
    "volunteer2",
    "outsider_volunteer",
    "outsider",
]
ENTITLED = {"resident", "secretary", "staff"}


@pytest.fixture
def everyone(
    resident, other_resident, secretary, other_secretary, staff, volunteer, volunteer2, outsider_volunteer, outsider
) -> dict[str, Any]:
    return {
        "resident": resident,
        "other_resident": other_resident,
        "secretary": secretary,
        "other_secretary": other_secretary,
        "staff": staff,
        "volunteer": volunteer,
        "volunteer2": volunteer2,
        "outsider_volunteer": outsider_volunteer,
        "outsider": outsider,
    }


@pytest.fixture
def pool(resident, secretary, volunteer, volunteer2) -> Cast:
    """volunteer and volunteer2 are both offered; volunteer claims."""
    return Cast(resident=resident, secretary=secretary, offered=[volunteer, volunteer2])


def everything_seen_by(client, order_id: int, branch_id: int) -> dict[str, Any]:
    """Every REST door a phone or desk might read the order through."""
    # Transferring an order to the branch it is at is refused for everyone, in every state.
    refused = client.post(f"/api/v1/orders/{order_id}/transfer", {"branch": branch_id, "reason": "x"}, format="json")
    assert refused.status_code in {400, 403, 404, 409}
    return {
        "list": client.get("/api/v1/orders", {"limit": 200}).content,
        "detail": client.get(f"/api/v1/orders/{order_id}").content,
        "offers": client.get("/api/v1/offers").content,
        "notifications": client.get("/api/v1/notifications").content,
        # Errors: an action nobody can take now, and a malformed one.
        "error": refused.content,
        "bad": client.post(f"/api/v1/orders/{order_id}/dispatch", {"mode": "teleport"}, format="json").content,
    }


def outbox_of(user) -> list[dict[str, Any]]:
    return list(Event.objects.filter(recipient=user).values("kind", "payload"))


@pytest.mark.parametrize("status", ["submitted", "dispatched", "claimed", "in_progress", "completed", "closed"])
def test_only_the_entitled_see_phone_address_and_position(status, api, everyone, pool, new_order, reach, world):
    order = reach(new_order(), status, pool)
    assigned = order.volunteer is not None
    for person, user in everyone.items():
        seen = everything_seen_by(api(user), order.pk, world.north_branch.pk)
        entitled = person in ENTITLED or (person == "volunteer" and assigned)
        if entitled:
            # They do get it (otherwise this test could not fail) — in the detail at least.
            assert set(leaks(seen["detail"])) >= {SECRET_ADDRESS, SECRET_PHONE, str(SECRET_LAT)}, person
            seen = {k: v for k, v in seen.items() if k in {"error", "bad"}}
        for door, body in seen.items():
            assert leaks(body) == [], (person, door)
        if not entitled:
            assert leaks(outbox_of(user)) == [], person
            assert leaks(list(Notification.objects.filter(user=user).values("title", "body"))) == [], person


def test_an_offer_carries_area_and_rounded_distance_only(api, volunteer, pool, new_order, reach):
    order = reach(new_order(), "dispatched", pool)
    offers = api(volunteer).get("/api/v1/offers").data
    assert [o["order"] for o in offers] == [order.pk]
    offer = offers[0]
    assert offer["area"] == "North grid"
    assert offer["distance_m"] % 100 == 0
    assert not {"address", "contact_phone", "lat", "lng", "resident"} & set(offer)
    # The offered volunteer may open the order to decide, but sees no personal field's value.
    detail = api(volunteer).get(f"/api/v1/orders/{order.pk}").data
    assert detail["roles"] == ["offered"]
    assert [detail[k] for k in ("address", "contact_phone", "lat", "lng")] == [None] * 4
    assert detail["attachments"] == []
    new_offer = Event.objects.get(recipient=volunteer, kind="offer.new")
    assert new_offer.payload["order"] == order.pk and leaks(new_offer.payload) == []


def test_the_winner_gets_the_address_the_losers_never_do(api, volunteer, volunteer2, pool, new_order, reach):
    order = reach(new_order(), "dispatched", pool)
    won = api(volunteer).post(f"/api/v1/orders/{order.pk}/claim")
    assert won.status_code == 200
    assert (won.data["address"], won.data["contact_phone"]) == (SECRET_ADDRESS, SECRET_PHONE)
    assert Event.objects.filter(recipient=volunteer, kind="order.assigned").exists()

    lost = api(volunteer2).post(f"/api/v1/orders/{order.pk}/claim")
    assert lost.status_code == 409 and lost.data["code"] == "already_claimed"
    assert leaks(lost.content) == []
    assert api(volunteer2).get(f"/api/v1/orders/{order.pk}").status_code == 404
    assert leaks(outbox_of(volunteer2)) == []
    assert [e["kind"] for e in outbox_of(volunteer2)] == ["offer.new", "offer.withdrawn"]


def test_after_releasing_the_volunteer_no_longer_sees_it(api, volunteer, pool, new_order, reach, spare_volunteer):
    order = reach(new_order(), "claimed", pool)
    client = api(volunteer)
    assert leaks(client.get(f"/api/v1/orders/{order.pk}").content)  # while they hold it
    last_event = Event.objects.filter(recipient=volunteer).order_by("-id").values_list("id", flat=True).first()

    assert client.post(f"/api/v1/orders/{order.pk}/release", {"reason": "Unwell"}, format="json").status_code == 200

    assert client.get(f"/api/v1/orders/{order.pk}").status_code == 404
    assert order.pk not in [o["id"] for o in client.get("/api/v1/orders").data["results"]]
    assert client.get("/api/v1/offers").data == []
    # Their notification centre never kept the address, and nothing sent since carries it.
    assert leaks(client.get("/api/v1/notifications").content) == []
    assert leaks(list(Event.objects.filter(recipient=volunteer, id__gt=last_event).values("payload"))) == []
    # Nor does their history: a resume from an old cursor must not hand the address back.
    assert last_event is not None
    assert leaks(list(Event.objects.filter(recipient=volunteer).values("payload"))) == []
    # Their attempts now tell them nothing either.
    for action, body in [("start", {}), ("release", {"reason": "again"}), ("complete", {"hours": "1"})]:
        response = client.post(f"/api/v1/orders/{order.pk}/{action}", body, format="json")
        assert response.status_code == 404 and leaks(response.content) == []
    # The next volunteer the cascade offered it to sees an offer, not the address.
    assert [o["order"] for o in api(spare_volunteer).get("/api/v1/offers").data] == [order.pk]
    assert leaks(outbox_of(spare_volunteer)) == []


def test_after_reopening_the_old_volunteer_loses_sight_of_it(api, volunteer, resident, pool, new_order, reach):
    order = reach(new_order(), "completed", pool)
    assert leaks(api(volunteer).get("/api/v1/orders").content)
    assert leaks(list(Event.objects.filter(recipient=volunteer).values("payload")))
    services.order_reopen(order_id=order.pk, user=resident, reason="Not fixed")
    assert api(volunteer).get(f"/api/v1/orders/{order.pk}").status_code == 404
    assert leaks(api(volunteer).get("/api/v1/orders").content) == []
    assert leaks(list(Event.objects.filter(recipient=volunteer).values("payload"))) == []


def test_the_other_desk_learns_nothing_even_after_a_transfer_back(
    api, secretary, other_secretary, world, new_order, reach
):
    """A desk that held the order once and passed it on no longer sees personal data."""
    order = reach(new_order(), "accepted")
    services.order_transfer(order_id=order.pk, user=secretary, reason="Theirs", branch_id=world.south_branch.pk)
    assert leaks(api(other_secretary).get(f"/api/v1/orders/{order.pk}").content)
    assert api(secretary).get(f"/api/v1/orders/{order.pk}").status_code == 404
    services.order_transfer(order_id=order.pk, user=other_secretary, reason="Back", branch_id=world.north_branch.pk)
    assert api(other_secretary).get(f"/api/v1/orders/{order.pk}").status_code == 404
    assert leaks(api(other_secretary).get("/api/v1/orders").content) == []


def test_timeline_events_never_carry_personal_data(new_order, reach, pool):
    """The timeline is shown to everyone who sees the order, offered volunteers included."""
    from orders.models import OrderEvent

    order = reach(new_order(), "closed", pool)
    rows = list(OrderEvent.objects.filter(order=order).values("note", "data"))
    assert len(rows) == 7 and leaks(rows) == []


def test_photos_follow_the_assignment(api, resident, volunteer, volunteer2, pool, new_order, reach, spare_volunteer):
    """The resident's photo: the assigned volunteer may open it, the pool loser and, after a
    release, the releaser may not."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.orders.media import jpeg_bytes

    order = reach(new_order(), "dispatched", pool)
    photo = SimpleUploadedFile("door.jpg", jpeg_bytes(), content_type="image/jpeg")
    url = api(resident).post(f"/api/v1/orders/{order.pk}/attachments", {"kind": "photo", "file": photo}).data["url"]
    assert api(volunteer).get(url).status_code == 404  # offered only
    services.order_claim(order_id=order.pk, user=volunteer)
    assert api(volunteer).get(url).status_code == 200
    assert api(volunteer).get(f"/api/v1/orders/{order.pk}").data["attachments"][0]["url"] == url
    assert api(volunteer2).get(url).status_code == 404
    services.order_release(order_id=order.pk, user=volunteer, reason="Unwell")
    assert api(volunteer).get(url).status_code == 404
    assert api(spare_volunteer).get(url).status_code == 404  # offered it next, not assigned
