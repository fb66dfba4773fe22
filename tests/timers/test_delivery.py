"""Notifications that reach people outside the app: Web Push, email, SMS, quiet hours, digest."""

from __future__ import annotations

import base64
import json
import logging
import os
from datetime import time, timedelta
from unittest import mock

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from notifications.delivery.dispatch import deliveries_run, deliveries_send
from notifications.delivery.sms import ConsoleSmsBackend, LocmemSmsBackend
from notifications.events import publish
from notifications.models import Delivery, Notification, NotificationPreference, PushSubscription
from orders import services
from timers.digest import digest_send_if_due


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


class Phone:
    """A browser's push subscription, with the private half to read what was pushed to it."""

    def __init__(self, endpoint: str = "https://push.example.net/send/abc123") -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> dict:
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(point(self.key)), "auth": b64url(self.auth)}}

    def read(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"))


class PushService:
    """Stands in for the push service at the HTTP boundary: records each POST, answers `status`."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.calls: list[dict] = []

    def __call__(self, session, url, **kwargs):
        self.calls.append({"url": url, **kwargs})
        response = requests.Response()
        response.status_code = self.status
        response._content = b""
        return response


@pytest.fixture
def vapid(settings):
    key = ec.generate_private_key(ec.SECP256R1())
    settings.VAPID_PRIVATE_KEY = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    settings.VAPID_PUBLIC_KEY = b64url(point(key))
    settings.VAPID_SUBJECT = "mailto:ops@sandan.test"
    return settings.VAPID_PUBLIC_KEY


@pytest.fixture
def push_service():
    service = PushService()
    with mock.patch.object(requests.Session, "post", autospec=True, side_effect=service):
        yield service


def quiet_night(user, start="22:00", end="07:00") -> None:
    h1, m1 = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    NotificationPreference.objects.update_or_create(
        user=user, defaults={"quiet_start": time(h1, m1), "quiet_end": time(h2, m2)}
    )


def local_at(hour: int, minute: int = 0, days: int = 0):
    return (timezone.localtime() + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)


@pytest.mark.django_db
class TestWebPush:
    def test_offer_is_pushed_to_the_volunteers_phone_encrypted(
        self, api, submit, advance, volunteer, vapid, push_service
    ):
        phone = Phone()
        assert (
            api(volunteer).post("/api/v1/me/push-subscriptions", phone.subscription(), format="json").status_code == 201
        )
        order = advance(submit(), "dispatched")  # a direct offer to `volunteer`

        deliveries_run(now=timezone.now())
        deliveries_run(now=timezone.now())  # nothing is pushed twice

        assert len(push_service.calls) == 1
        call = push_service.calls[0]
        assert call["url"] == phone.endpoint
        assert call["headers"]["authorization"].startswith("vapid t=")
        assert call["headers"]["ttl"] == "600"  # an offer is worth nothing once it has lapsed
        pushed = phone.read(call["data"])
        assert pushed["kind"] == "offer.new" and pushed["order"] == order.pk
        assert order.category.name in pushed["title"]
        assert order.address not in json.dumps(pushed) and order.contact_phone not in json.dumps(pushed)
        assert Delivery.objects.get(user=volunteer, channel="push").status == "sent"

    def test_the_push_says_whether_the_phone_may_vibrate_and_where_a_tap_leads(
        self, api, submit, advance, volunteer, vapid, push_service
    ):
        phone = Phone()
        client = api(volunteer)
        client.post("/api/v1/me/push-subscriptions", phone.subscription(), format="json")
        client.patch("/api/v1/me/notification-preferences", {"vibrate": False}, format="json")
        advance(submit(), "dispatched")
        deliveries_run(now=timezone.now())
        pushed = phone.read(push_service.calls[0]["data"])
        assert pushed["vibrate"] is False and pushed["sound"] is True
        assert pushed["url"] == "/volunteer/"  # an offer opens the offers

    def test_subscription_the_push_service_says_is_gone_is_forgotten(
        self, api, submit, advance, volunteer, vapid, push_service
    ):
        push_service.status = 410
        api(volunteer).post("/api/v1/me/push-subscriptions", Phone().subscription(), format="json")
        advance(submit(), "dispatched")
        deliveries_run(now=timezone.now())
        assert not PushSubscription.objects.filter(user=volunteer).exists()
        assert Delivery.objects.get(user=volunteer, channel="push").reason == "gone"

    def test_push_service_outage_is_retried_later(self, api, submit, advance, volunteer, vapid, push_service):
        push_service.status = 503
        api(volunteer).post("/api/v1/me/push-subscriptions", Phone().subscription(), format="json")
        advance(submit(), "dispatched")
        now = timezone.now()
        deliveries_run(now=now)
        delivery = Delivery.objects.get(user=volunteer, channel="push")
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        push_service.status = 201
        deliveries_send(now=now)  # backing off: not yet
        assert len(push_service.calls) == 1
        deliveries_send(now=now + timedelta(minutes=2))
        delivery.refresh_from_db()
        assert (delivery.status, len(push_service.calls)) == ("sent", 2)

    def test_without_vapid_keys_nothing_is_sent_and_the_log_says_why(
        self, api, submit, advance, volunteer, push_service
    ):
        api(volunteer).post("/api/v1/me/push-subscriptions", Phone().subscription(), format="json")
        advance(submit(), "dispatched")
        deliveries_run(now=timezone.now())
        assert push_service.calls == []
        assert Delivery.objects.get(user=volunteer, channel="push").reason == "no_vapid"


@pytest.mark.django_db
class TestQuietHours:
    def test_no_push_at_night_except_for_urgent_orders(self, volunteer, submit, vapid, push_service):
        PushSubscription.objects.create(user=volunteer, endpoint=Phone().endpoint, **_keys())
        quiet_night(volunteer)
        normal = submit()
        urgent = submit(urgency="urgent")
        for order in (normal, urgent):
            publish(recipients=[volunteer.pk], kind="offer.new", payload={}, order_id=order.pk, notify=("New", ""))
        night = local_at(23)
        deliveries_run(now=night)
        by_order = {d.notification.order_id: d for d in Delivery.objects.filter(user=volunteer, channel="push")}
        assert (by_order[normal.pk].status, by_order[normal.pk].reason) == ("skipped", "quiet_hours")
        assert by_order[urgent.pk].status == "sent"
        assert len(push_service.calls) == 1

    def test_quiet_hours_that_do_not_wrap_midnight(self, volunteer):
        from notifications.delivery.preferences import prefs_for

        quiet_night(volunteer, "12:00", "14:00")
        prefs = prefs_for(volunteer.pk)
        assert prefs.is_quiet(local_at(13)) and not prefs.is_quiet(local_at(14)) and not prefs.is_quiet(local_at(23))

    def test_sms_to_a_resident_waits_until_quiet_hours_end(self, resident, secretary, submit):
        NotificationPreference.objects.create(user=resident, sms=True, quiet_start=time(22), quiet_end=time(7))
        order = submit()
        services.order_accept(order_id=order.pk, user=secretary)  # → "accepted" notice to the resident
        night = local_at(23)
        deliveries_run(now=night)
        deliveries_run(now=night + timedelta(hours=2))
        assert LocmemSmsBackend.outbox == []
        sms = Delivery.objects.get(user=resident, channel="sms")
        assert timezone.localtime(sms.not_before).hour == 7

        deliveries_run(now=local_at(7, 1, days=1))
        assert len(LocmemSmsBackend.outbox) == 1
        number, text = LocmemSmsBackend.outbox[0]
        assert number == resident.resident.phone
        notice = Notification.objects.get(user=resident, kind="order.notice", order=order)
        assert text.startswith(notice.title)

    def test_resident_without_sms_preference_gets_no_text(self, resident, secretary, submit):
        services.order_accept(order_id=submit().pk, user=secretary)
        deliveries_run(now=timezone.now())
        assert LocmemSmsBackend.outbox == []

    def test_console_sms_backend_never_logs_the_full_number(self, caplog):
        with caplog.at_level(logging.INFO, logger="sandan.sms"):
            ConsoleSmsBackend().send(phone="13812345678", text="Your request was accepted.")
        assert "13812345678" not in caplog.text
        assert "138****5678" in caplog.text


def _keys() -> dict:
    phone = Phone()
    sub = phone.subscription()
    return {"p256dh": sub["keys"]["p256dh"], "auth": sub["keys"]["auth"]}


@pytest.mark.django_db
class TestEmail:
    def test_escalation_is_emailed_to_staff_without_personal_data(self, submit, staff, at, tick):
        staff.email = "staff@community.test"
        staff.save()
        order = submit()
        tick(at(31))
        deliveries_run(now=at(31))
        deliveries_run(now=at(32))
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["staff@community.test"]
        assert f"#{order.pk}" in message.subject
        assert order.address not in message.body and order.contact_phone not in message.body

    def test_staff_who_turned_email_off_gets_none(self, submit, staff, at, tick):
        staff.email = "staff@community.test"
        staff.save()
        NotificationPreference.objects.create(user=staff, email=False)
        submit()
        tick(at(31))
        deliveries_run(now=at(31))
        assert mail.outbox == []

    def test_desk_digest_counts_each_desk_without_personal_data(self, submit, secretary, staff, world):
        secretary.email = "secretary@branch.test"
        secretary.save()
        order = submit()
        call_command("send_desk_digest", stdout=open(os.devnull, "w"))  # noqa: SIM115
        assert [m.to for m in mail.outbox] == [["secretary@branch.test"]]
        body = mail.outbox[0].body
        assert world.north_branch.name in body and "1 waiting for review" in body
        assert world.south_branch.name not in body  # not their desk
        assert order.address not in body and order.contact_phone not in body

    def test_worker_sends_the_digest_once_a_day(self, secretary, settings):
        secretary.email = "secretary@branch.test"
        secretary.save()
        settings.SANDAN_TIMERS = {**settings.SANDAN_TIMERS, "DIGEST_HOUR": 8}
        assert digest_send_if_due(now=local_at(7)) is None
        assert digest_send_if_due(now=local_at(9)) == 1
        assert digest_send_if_due(now=local_at(15)) is None
        assert len(mail.outbox) == 1
