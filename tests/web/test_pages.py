"""The pages as each role uses them, through Django's test client (the browser tests in
tests/e2e drive the same pages in Chromium)."""

from __future__ import annotations

import io
import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from orders import services
from orders.models import Attachment, Order

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def wav_bytes(seconds: float = 0.5, rate: int = 16000) -> bytes:
    """What the page's recorder produces: mono 16-bit PCM WAV."""
    n = int(seconds * rate)
    samples = b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(n))
    header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(samples)) + samples


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def test_anonymous_visitor_is_sent_to_the_styled_login_in_chinese(client):
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    page = response.content.decode()
    assert 'lang="zh-hans"' in page
    assert "登录" in page
    assert 'for="id_login"' in page and 'for="id_password"' in page


def test_language_switch_to_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"}, follow=True)
    page = response.content.decode()
    assert 'lang="en"' in page
    assert "Sign in" in page


def test_each_role_lands_on_its_own_page(resident, secretary, volunteer, staff):
    assert signed_in(resident).get("/")["Location"] == "/orders/"
    assert signed_in(volunteer).get("/")["Location"] == "/volunteer/"
    assert signed_in(secretary).get("/")["Location"] == "/desk/"
    assert signed_in(staff).get("/")["Location"] == "/desk/"


def test_resident_places_an_order_with_photo_and_voice(resident, secretary):
    client = signed_in(resident)
    response = client.post(
        "/orders/new",
        {
            "category": "errands",
            "description": "Please bring rice <b>now</b>",
            "urgency": "high",
            "address": "",
            "photo": SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg"),
            "voice": SimpleUploadedFile("voice.wav", wav_bytes(), content_type="audio/wav"),
        },
    )
    order = Order.objects.get(resident=resident)
    assert response["Location"] == f"/orders/{order.pk}/"
    assert order.urgency == "high" and order.status == "submitted"
    assert sorted(order.attachments.values_list("kind", flat=True)) == ["photo", "voice"]
    assert order.attachments.get(kind="voice").content_type == "audio/wav"
    page = client.get(response["Location"]).content.decode()
    # User text is escaped, never markup.
    assert "&lt;b&gt;now&lt;/b&gt;" in page and "<b>now</b>" not in page


def test_new_resident_without_a_home_chooses_a_neighbourhood(world, django_user_model):
    newcomer = django_user_model.objects.create_user("newcomer", password="pw-newcomer-1")
    client = signed_in(newcomer)
    refused = client.post("/orders/new", {"category": "repair", "description": "Leaking tap", "urgency": "normal"})
    assert refused.status_code == 200
    assert not Order.objects.filter(resident=newcomer).exists()
    client.post(
        "/orders/new",
        {
            "category": "repair",
            "description": "Leaking tap",
            "urgency": "normal",
            "address": "3 Elm Road",
            "grid": world.north.pk,
        },
    )
    order = Order.objects.get(resident=newcomer)
    assert order.branch == world.north_branch and order.address == "3 Elm Road"


def test_a_bad_voice_file_leaves_no_half_made_order(resident):
    client = signed_in(resident)
    response = client.post(
        "/orders/new",
        {
            "category": "errands",
            "description": "Bread",
            "urgency": "normal",
            "voice": SimpleUploadedFile("voice.wav", b"not audio at all", content_type="audio/wav"),
        },
    )
    assert response.status_code == 200
    assert not Order.objects.filter(resident=resident).exists()
    assert not Attachment.objects.exists()


def test_secretary_sees_the_queue_with_age_and_accepts(submit, secretary):
    order = submit(description="Carry the shopping upstairs")
    client = signed_in(secretary)
    queue = client.get("/desk/?fragment=queue").content.decode()
    assert f'data-order="{order.pk}"' in queue
    assert "分钟" in queue or "min" in queue
    client.post(f"/orders/{order.pk}/accept")
    order.refresh_from_db()
    assert order.status == "accepted"
    board = client.get("/desk/?fragment=board").content.decode()
    assert f'data-order="{order.pk}"' in board


def test_desk_order_page_ranks_candidates_and_dispatches_direct(submit, secretary, advance, volunteer, volunteer2):
    order = advance(submit(), "accepted")
    client = signed_in(secretary)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert f'value="{volunteer.volunteer.pk}"' in page and f'value="{volunteer2.volunteer.pk}"' in page
    assert "distance" in page  # the reason of each rank is shown
    client.post(f"/orders/{order.pk}/dispatch", {"volunteer": volunteer2.volunteer.pk, "top": ""})
    order.refresh_from_db()
    assert order.status == "dispatched"
    assert list(order.offers.values_list("volunteer_id", flat=True)) == [volunteer2.volunteer.pk]


def test_second_claim_is_told_someone_was_faster(submit, secretary, advance, volunteer, volunteer2):
    order = advance(submit(), "accepted")
    services.order_dispatch(order_id=order.pk, user=secretary, mode="pool", top=5)
    json_accept = {"HTTP_ACCEPT": "application/json"}
    first = signed_in(volunteer).post(f"/orders/{order.pk}/claim", **json_accept).json()
    second = signed_in(volunteer2).post(f"/orders/{order.pk}/claim", **json_accept).json()
    assert first["ok"] is True
    assert second == {"ok": False, "code": "already_claimed", "message": second["message"]}
    assert second["message"]


def test_offered_volunteer_sees_no_address_or_phone_until_assigned(submit, secretary, advance, volunteer, resident):
    order = advance(submit(), "dispatched")
    client = signed_in(volunteer)
    offers = client.get("/volunteer/?fragment=offers").content.decode()
    before = client.get(f"/orders/{order.pk}/").content.decode()
    for page in (offers, before):
        assert order.address not in page and order.contact_phone not in page
    services.order_claim(order_id=order.pk, user=volunteer)
    tasks = client.get("/volunteer/?fragment=tasks").content.decode()
    assert order.address in tasks and order.contact_phone in tasks
    assert "geo:" in tasks


def test_outsiders_get_404_for_someone_elses_order(submit, outsider, other_resident, outsider_volunteer):
    order = submit()
    for user in (outsider, other_resident, outsider_volunteer):
        assert signed_in(user).get(f"/orders/{order.pk}/").status_code == 404
        assert signed_in(user).post(f"/orders/{order.pk}/cancel").status_code == 302
    order.refresh_from_db()
    assert order.status == "submitted"


def test_volunteer_completes_with_hours_and_resident_rates(submit, advance, volunteer, resident):
    order = advance(submit(), "in_progress")
    signed_in(volunteer).post(
        f"/orders/{order.pk}/complete",
        {"note": "Fixed", "hours": "1.5", "photo": SimpleUploadedFile("p.jpg", jpeg_bytes(), "image/jpeg")},
    )
    order.refresh_from_db()
    assert order.status == "completed" and str(order.hours) == "1.50"
    assert order.attachments.filter(kind="photo").exists()
    signed_in(resident).post(f"/orders/{order.pk}/confirm", {"rating": "5", "comment": "Great"})
    order.refresh_from_db()
    assert order.status == "closed"
    hours = signed_in(volunteer).get("/volunteer/hours").content.decode()
    assert "1.5" in hours


def test_on_duty_switch_turns_offers_off(volunteer):
    client = signed_in(volunteer)
    client.post("/volunteer/duty", {"on_duty": ""})
    volunteer.volunteer.refresh_from_db()
    assert volunteer.volunteer.on_duty is False
    client.post("/volunteer/duty", {"on_duty": "1"})
    volunteer.volunteer.refresh_from_db()
    assert volunteer.volunteer.on_duty is True


def test_staff_sees_every_branch_below_and_can_transfer(submit, staff, world, other_resident):
    north = submit()
    south = submit(user=other_resident)
    client = signed_in(staff)
    queue = client.get("/desk/?fragment=queue").content.decode()
    assert f'data-order="{north.pk}"' in queue and f'data-order="{south.pk}"' in queue
    page = client.get(f"/orders/{north.pk}/").content.decode()
    assert "South branch" in page  # a transfer target
    client.post(f"/orders/{north.pk}/transfer", {"branch": world.south_branch.pk, "reason": "Their patch"})
    north.refresh_from_db()
    assert north.branch == world.south_branch


def test_installable_app_has_manifest_icons_and_worker(client):
    manifest = client.get("/manifest.webmanifest").json()
    # One app for every role: it starts where each person's own page is (`/` routes by role).
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    worker = client.get("/sw.js")
    assert worker["Service-Worker-Allowed"] == "/"
    assert b"/offline" in worker.content and b"__SHELL__" not in worker.content


def test_desk_and_lists_cost_the_same_queries_for_3_or_12_orders(submit, secretary, resident, advance):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(client, url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    desk, home = signed_in(secretary), signed_in(resident)
    urls = [(desk, "/desk/?fragment=queue"), (desk, "/desk/?fragment=board"), (home, "/orders/?fragment=list")]
    for _ in range(3):
        advance(submit(), "accepted")
        submit()
    few = [count(client, url) for client, url in urls]
    for _ in range(9):
        advance(submit(), "accepted")
        submit()
    many = [count(client, url) for client, url in urls]
    assert many == few


def test_a_resent_request_form_makes_one_order(resident):
    client = signed_in(resident)
    form = client.get("/orders/new").content.decode()
    key = form.split('name="key" value="')[1].split('"')[0]
    body = {"category": "errands", "description": "Bread", "urgency": "normal", "key": key}
    first = client.post("/orders/new", body)
    again = client.post("/orders/new", body)
    assert first["Location"] == again["Location"]
    assert Order.objects.filter(resident=resident).count() == 1


def test_a_bad_photo_is_reported_on_the_photo_field(resident):
    response = signed_in(resident).post(
        "/orders/new",
        {
            "category": "errands",
            "description": "Bread",
            "urgency": "normal",
            "photo": SimpleUploadedFile("p.jpg", b"not a picture", content_type="image/jpeg"),
        },
    )
    assert response.context["form"].errors["photo"]
    assert not Order.objects.filter(resident=resident).exists()


def test_secretary_must_give_a_reason_to_reject(submit, secretary):
    order = submit()
    client = signed_in(secretary)
    refused = client.post(f"/orders/{order.pk}/reject", {"reason": ""}, follow=True)
    order.refresh_from_db()
    assert order.status == "submitted"
    assert "error" in refused.content.decode()  # told on the page, not a 500
    client.post(f"/orders/{order.pk}/reject", {"reason": "Outside our remit"})
    order.refresh_from_db()
    assert order.status == "rejected"
    assert "Outside our remit" in signed_in(order.resident).get(f"/orders/{order.pk}/").content.decode()


def test_pool_of_ticked_volunteers_and_broadcast(submit, secretary, advance, volunteer, volunteer2):
    client = signed_in(secretary)
    pooled = advance(submit(), "accepted")
    client.post(
        f"/orders/{pooled.pk}/dispatch",
        {"mode": "pool", "volunteers": [volunteer.volunteer.pk, volunteer2.volunteer.pk], "top": ""},
    )
    broadcast = advance(submit(), "accepted")
    client.post(f"/orders/{broadcast.pk}/dispatch", {"mode": "broadcast", "top": ""})
    for order in (pooled, broadcast):
        order.refresh_from_db()
        assert order.status == "dispatched"
        assert set(order.offers.values_list("volunteer_id", flat=True)) == {
            volunteer.volunteer.pk,
            volunteer2.volunteer.pk,
        }


def test_resident_cancels_and_reopens(submit, advance, resident):
    client = signed_in(resident)
    waiting = submit()
    client.post(f"/orders/{waiting.pk}/cancel", {"reason": ""})
    waiting.refresh_from_db()
    assert waiting.status == "cancelled"
    done = advance(submit(), "completed")
    client.post(f"/orders/{done.pk}/reopen", {"reason": "The tap drips again"})
    done.refresh_from_db()
    assert done.status == "accepted" and done.volunteer is None


def test_overdue_orders_are_flagged_and_escalated_to_staff(submit, secretary, staff):
    from datetime import timedelta

    from django.utils import timezone

    late = submit(description="Waiting since yesterday")
    fresh = submit(description="Just now")
    Order.objects.filter(pk=late.pk).update(created_at=timezone.now() - timedelta(days=1))
    queue = signed_in(secretary).get("/desk/?fragment=queue").content.decode()
    late_row = queue.split(f'data-order="{late.pk}"')[1].split("</tr>")[0]
    fresh_row = queue.split(f'data-order="{fresh.pk}"')[1].split("</tr>")[0]
    assert late_row.startswith(' class="is-overdue"') and "overdue-badge" in late_row
    assert "is-overdue" not in fresh_row and "overdue-badge" not in fresh_row
    escalations = signed_in(staff).get("/desk/?fragment=escalations").content.decode()
    assert f'data-order="{late.pk}"' in escalations and f'data-order="{fresh.pk}"' not in escalations
