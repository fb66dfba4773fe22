"""A voice note or a photo may stand for the text of a request: one rule
(`order_content_check`) for the API, the pages and every other way in."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders import services
from orders.errors import InvalidInput
from orders.models import Order
from tests.orders.media import jpeg_bytes, wav_bytes

pytestmark = pytest.mark.django_db


def voice() -> SimpleUploadedFile:
    return SimpleUploadedFile("note.wav", wav_bytes(), content_type="audio/wav")


def test_api_takes_a_request_that_is_only_a_voice_note(api, resident):
    answer = api(resident).post("/api/v1/orders", {"category": "errands", "voice": voice()}, format="multipart")
    assert answer.status_code == 201, answer.json()
    order = Order.objects.get(pk=answer.json()["id"])
    assert order.description == "" and list(order.attachments.values_list("kind", flat=True)) == ["voice"]


def test_api_takes_a_photo_with_the_request_and_its_text(api, resident):
    photo = SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")
    answer = api(resident).post(
        "/api/v1/orders", {"category": "repair", "description": "This tap", "photo": photo}, format="multipart"
    )
    assert answer.status_code == 201
    assert Order.objects.get(pk=answer.json()["id"]).attachments.get().kind == "photo"


@pytest.mark.parametrize("body", [{"category": "errands"}, {"category": "errands", "description": "   "}])
def test_api_refuses_a_request_with_neither_words_nor_a_recording(api, resident, body):
    answer = api(resident).post("/api/v1/orders", body, format="json")
    assert answer.status_code == 400 and "description" in answer.json()
    assert not Order.objects.exists()


def test_a_file_that_is_not_a_recording_is_refused_by_its_name_and_nothing_is_created(api, resident):
    fake = SimpleUploadedFile("note.wav", b"not audio at all", content_type="audio/wav")
    answer = api(resident).post("/api/v1/orders", {"category": "errands", "voice": fake}, format="multipart")
    assert answer.status_code == 400 and "voice" in answer.json()
    assert not Order.objects.exists()  # the order and its recording land together or not at all


def test_the_service_rule_is_the_same_for_every_caller(resident):
    with pytest.raises(InvalidInput) as refused:
        services.order_submit(resident=resident, data=services.OrderInput(category="errands", description=""))
    assert "description" in refused.value.fields
    order, created = services.order_submit(
        resident=resident,
        data=services.OrderInput(category="errands", description=""),
        attachments=[("voice", voice())],
    )
    assert created and order.attachments.count() == 1


def test_the_page_takes_a_voice_note_alone(client, resident):
    client.force_login(resident)
    answer = client.post("/orders/new", {"category": "errands", "urgency": "normal", "voice": voice()})
    assert answer.status_code == 302
    assert Order.objects.get(resident=resident).attachments.get().kind == "voice"
