"""An intake elders can use: "call me back" on one screen, which the desk sees first and
marked; large type kept on the person's account."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import Attachment, Order
from tests.web.test_pages import signed_in, wav_bytes

pytestmark = pytest.mark.django_db


def test_call_me_back_with_a_tap_reaches_the_desk_first_and_marked(submit, resident, secretary):
    older = submit(description="Fix the tap", urgency="urgent")
    page = signed_in(resident).get("/orders/call-me")
    assert page.status_code == 200
    html = page.content.decode()
    # One screen: the category, a voice note, the button. Home and phone come from the profile.
    assert 'name="category"' in html and 'name="voice"' in html
    assert 'name="description"' not in html and 'name="grid"' not in html and 'name="contact_phone"' not in html
    key = page.context["form"].initial["key"]
    answer = signed_in(resident).post("/orders/call-me", {"category": "errands", "key": key})
    order = Order.objects.exclude(pk=older.pk).get()
    assert answer.status_code == 302 and answer["Location"] == f"/orders/{order.pk}/"
    assert order.kind == "callback" and order.status == "submitted"
    assert order.contact_phone == resident.resident.phone
    # Sent again (a lost answer): still one.
    signed_in(resident).post("/orders/call-me", {"category": "errands", "key": key})
    assert Order.objects.filter(kind="callback").count() == 1

    desk = signed_in(secretary).get("/desk/")
    queue = [o.pk for o in desk.context["queue"]]
    assert queue == [order.pk, older.pk]  # before an urgent request
    rows = desk.content.decode()
    first_row = rows[rows.index(f'data-order="{order.pk}"') :][:800]
    assert "is-callback" in first_row and "回电" in first_row and resident.resident.phone in first_row


def test_call_me_back_with_a_voice_note(resident):
    voice = SimpleUploadedFile("voice.wav", wav_bytes(), content_type="audio/wav")
    answer = signed_in(resident).post("/orders/call-me", {"category": "errands", "voice": voice})
    assert answer.status_code == 302
    order = Order.objects.get()
    assert order.kind == "callback"
    assert Attachment.objects.filter(order=order, kind="voice").count() == 1


def test_call_me_back_asks_for_a_phone_and_neighbourhood_only_when_missing(world, django_user_model):
    newcomer = django_user_model.objects.create_user(username="newcomer", password="x")
    client = signed_in(newcomer)
    html = client.get("/orders/call-me").content.decode()
    assert 'name="grid"' in html and 'name="contact_phone"' in html
    refused = client.post("/orders/call-me", {"category": "errands"})
    assert refused.status_code == 200 and not Order.objects.exists()
    assert set(refused.context["form"].errors) == {"grid", "contact_phone"}
    sent = client.post(
        "/orders/call-me", {"category": "errands", "grid": world.north.pk, "contact_phone": "13912345678"}
    )
    assert sent.status_code == 302
    order = Order.objects.get()
    assert order.kind == "callback" and order.contact_phone == "13912345678" and order.grid_id == world.north.pk


def test_large_type_is_kept_on_the_account_and_shown_on_resident_pages(resident):
    client = signed_in(resident)
    assert 'class="large-type"' not in client.get("/orders/").content.decode()
    client.post("/me/large-type", {"on": "1", "next": "/orders/new"})
    resident.refresh_from_db()
    assert resident.large_type is True
    # Another phone, the same person: large type there too, on each resident page.
    other_phone = signed_in(resident)
    for url in ["/orders/", "/orders/new", "/orders/call-me"]:
        html = other_phone.get(url).content.decode()
        assert '<html lang="zh-hans" class="large-type">' in html, url
    client.post("/me/large-type", {"next": "/orders/"})
    resident.refresh_from_db()
    assert resident.large_type is False


def test_large_type_stays_off_the_desk(secretary):
    secretary.large_type = True
    secretary.save()
    assert 'class="large-type"' not in signed_in(secretary).get("/desk/").content.decode()
