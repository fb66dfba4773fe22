"""Each role drives the whole lifecycle through the REST API, as a phone app would."""

from __future__ import annotations

import pytest

from orders.models import OrderEvent, Rating

pytestmark = pytest.mark.django_db


def test_full_lifecycle_through_the_api(api, resident, secretary, volunteer, volunteer2):
    created = api(resident).post(
        "/api/v1/orders", {"category": "errands", "description": "Buy rice and oil, please."}, format="json"
    )
    assert created.status_code == 201, created.data
    order = created.data
    assert order["status"] == "submitted"
    # Location, address and phone default to the resident's profile.
    assert order["address"] == resident.resident.address
    assert order["contact_phone"] == resident.resident.phone
    oid = order["id"]

    desk = api(secretary)
    assert desk.post(f"/api/v1/orders/{oid}/accept").data["status"] == "accepted"
    dispatched = desk.post(f"/api/v1/orders/{oid}/dispatch", {"mode": "pool", "top": 5}, format="json")
    assert dispatched.status_code == 200, dispatched.data
    assert dispatched.data["status"] == "dispatched"

    offers = api(volunteer).get("/api/v1/offers").data
    assert [o["order"] for o in offers] == [oid]
    assert "address" not in offers[0] and "contact_phone" not in offers[0]

    claimed = api(volunteer).post(f"/api/v1/orders/{oid}/claim")
    assert claimed.status_code == 200 and claimed.data["status"] == "claimed"
    # The winner now sees where to go; the other pool member's offer vanished.
    assert claimed.data["address"] == resident.resident.address
    assert api(volunteer2).get("/api/v1/offers").data == []

    assert api(volunteer).post(f"/api/v1/orders/{oid}/start").data["status"] == "in_progress"
    done = api(volunteer).post(f"/api/v1/orders/{oid}/complete", {"note": "Delivered", "hours": "1.5"}, format="json")
    assert done.data["status"] == "completed"
    closed = api(resident).post(f"/api/v1/orders/{oid}/confirm", {"rating": 5, "comment": "Thank you"}, format="json")
    assert closed.status_code == 200 and closed.data["status"] == "closed"

    detail = api(resident).get(f"/api/v1/orders/{oid}").data
    assert [e["action"] for e in detail["timeline"]] == [
        "submit",
        "accept",
        "dispatch",
        "claim",
        "start",
        "complete",
        "confirm",
    ]
    assert [(e["from"], e["to"]) for e in detail["timeline"]][-1] == ("completed", "closed")
    assert detail["rating"] == {"rating": 5, "comment": "Thank you"}
    assert Rating.objects.get(order_id=oid).volunteer.user == volunteer
    assert OrderEvent.objects.filter(order_id=oid).count() == 7
