"""Before a claim a volunteer sees nothing personal of the resident — not their name, not a
phone number or e-mail address they typed into the description — through any door: REST,
the pages, the outbox. After the order is closed, the volunteer who did it keeps the
resident's details for SANDAN["CONTACT_HOURS_AFTER_CLOSE"] hours, then loses them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from notifications.models import Event
from orders import services
from orders.models import Order
from tests.factories import BASE_LAT, BASE_LNG
from tests.orders.conftest import SECRET_ADDRESS, SECRET_PHONE, Cast, leaks

pytestmark = pytest.mark.django_db

NAME = "王小明"
TYPED_PHONE = "139 8765 4321"
TYPED_EMAIL = "xiaoming.wang@example.com"
DESCRIPTION = f"Please fetch my medicine. Call me on {TYPED_PHONE} or write to {TYPED_EMAIL}; ask for {NAME}."


def personal(body: Any) -> list[str]:
    text = body if isinstance(body, str) else json.dumps(body, default=str, ensure_ascii=False)
    if isinstance(body, bytes):
        text = body.decode()
    return [s for s in (NAME, TYPED_PHONE, TYPED_EMAIL, "xiaoming", *leaks(text)) if s in text]


@pytest.fixture
def named_resident(resident):
    resident.display_name = NAME
    resident.first_name, resident.last_name = "小明", "王"
    resident.email = TYPED_EMAIL
    resident.save()
    return resident


@pytest.fixture
def offered_order(named_resident, secretary, volunteer, new_order, reach):
    order = new_order(description=DESCRIPTION)
    return reach(order, "dispatched", Cast(resident=named_resident, secretary=secretary, offered=[volunteer]))


def page(user, path: str) -> str:
    browser = Client()
    browser.force_login(user)
    response = browser.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def test_an_offered_volunteer_sees_no_name_phone_or_email_anywhere(api, volunteer, offered_order):
    client = api(volunteer)
    detail = client.get(f"/api/v1/orders/{offered_order.pk}")
    assert detail.data["roles"] == ["offered"]
    doors = {
        "detail": detail.content,
        "list": client.get("/api/v1/orders").content,
        "offers": client.get("/api/v1/offers").content,
        "notifications": client.get("/api/v1/notifications").content,
        "outbox": list(Event.objects.filter(recipient=volunteer).values("kind", "payload")),
        "order page": page(volunteer, f"/orders/{offered_order.pk}/"),
        "volunteer page": page(volunteer, "/volunteer/"),
    }
    for door, body in doors.items():
        assert personal(body) == [], door
    # The submit step still says who took it, as a role.
    submit = next(step for step in detail.data["timeline"] if step["action"] == "submit")
    assert submit["actor"] not in (None, NAME, "resident")
    # The job itself stays readable.
    (offer,) = client.get("/api/v1/offers").data
    assert offer["description"].startswith("Please fetch my medicine. Call me on ***")


def test_the_desk_and_the_resident_still_see_it_all(api, named_resident, secretary, offered_order):
    for user in (named_resident, secretary):
        detail = api(user).get(f"/api/v1/orders/{offered_order.pk}").data
        assert detail["description"] == DESCRIPTION
        submit = next(step for step in detail["timeline"] if step["action"] == "submit")
        assert submit["actor"] == NAME
        assert NAME in page(user, f"/orders/{offered_order.pk}/")


def test_an_open311_filers_name_does_not_reach_offered_volunteers(api, world, secretary, volunteer):
    from open311 import services as open311_services

    _client, key = open311_services.client_register(name="市民熱線", rate="100/minute")
    filed = Client().post(
        "/open311/v2/requests.json",
        {
            "api_key": key,
            "service_code": "errands",
            "lat": str(BASE_LAT),
            "long": str(BASE_LNG),
            "email": "li.hua@example.com",
            "first_name": "华",
            "last_name": "李",
            "description": "请帮我买米，电话 13812345678。",
        },
    )
    assert filed.status_code == 201, filed.content
    order_id = filed.json()[0]["service_request_id"]
    services.order_accept(order_id=order_id, user=secretary)
    services.order_dispatch(order_id=order_id, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    seen = api(volunteer).get(f"/api/v1/orders/{order_id}").content.decode()
    for secret in ("李", "华", "李华", "li.hua", "13812345678"):
        assert secret not in seen, secret
    assert "***" in seen


def test_release_and_reopen_notes_reach_later_offers_masked(
    api, named_resident, secretary, volunteer, volunteer2, new_order, reach
):
    """A reopen reason the resident typed is on the timeline the next offered volunteer reads."""
    cast = Cast(resident=named_resident, secretary=secretary, offered=[volunteer])
    order = reach(new_order(), "completed", cast)
    services.order_reopen(order_id=order.pk, user=named_resident, reason=f"Still broken, ring {TYPED_PHONE}")
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer2.volunteer.pk)
    detail = api(volunteer2).get(f"/api/v1/orders/{order.pk}")
    assert detail.data["roles"] == ["offered"]
    assert personal(detail.content) == []
    reopen = next(step for step in detail.data["timeline"] if step["action"] == "reopen")
    assert reopen["note"] == "Still broken, ring ***"


# --- after the close -------------------------------------------------------------------------


@pytest.fixture
def closed_order(named_resident, secretary, volunteer, new_order, reach):
    return reach(new_order(), "closed", Cast(resident=named_resident, secretary=secretary, offered=[volunteer]))


def _age(order: Order, hours: float) -> None:
    Order.objects.filter(pk=order.pk).update(closed_at=timezone.now() - timedelta(hours=hours))


def test_the_volunteer_keeps_the_contact_for_a_day_after_the_close(api, volunteer, closed_order):
    _age(closed_order, 23)
    detail = api(volunteer).get(f"/api/v1/orders/{closed_order.pk}").data
    assert (detail["address"], detail["contact_phone"]) == (SECRET_ADDRESS, SECRET_PHONE)


def test_then_the_volunteer_loses_phone_address_and_name_everywhere(api, volunteer, closed_order, settings):
    assert settings.SANDAN["CONTACT_HOURS_AFTER_CLOSE"] == 24
    _age(closed_order, 25)
    client = api(volunteer)
    detail = client.get(f"/api/v1/orders/{closed_order.pk}")
    assert detail.status_code == 200 and detail.data["roles"] == ["assigned"]  # still in their history
    assert [detail.data[k] for k in ("address", "contact_phone", "lat", "lng")] == [None] * 4
    for door, body in {
        "detail": detail.content,
        "list": client.get("/api/v1/orders").content,
        "order page": page(volunteer, f"/orders/{closed_order.pk}/"),
        "outbox": list(Event.objects.filter(recipient=volunteer).values("payload")),
    }.items():
        assert personal(body) == [], door


def test_the_outbox_copies_lose_the_details_at_the_close(volunteer, closed_order):
    """A resume from an old cursor after the close must not hand the address back."""
    payloads = list(Event.objects.filter(recipient=volunteer, order_id=closed_order.pk).values("payload"))
    assert payloads and personal(payloads) == []


def test_their_photo_follows_the_same_window(api, named_resident, secretary, volunteer, new_order, reach):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.orders.media import jpeg_bytes

    cast = Cast(resident=named_resident, secretary=secretary, offered=[volunteer])
    order = reach(new_order(), "claimed", cast)
    photo = SimpleUploadedFile("door.jpg", jpeg_bytes(), content_type="image/jpeg")
    url = api(named_resident).post(f"/api/v1/orders/{order.pk}/attachments", {"kind": "photo", "file": photo})
    order = reach(order, "closed", cast)
    assert api(volunteer).get(url.data["url"]).status_code == 200
    _age(order, 25)
    assert api(volunteer).get(url.data["url"]).status_code == 404
