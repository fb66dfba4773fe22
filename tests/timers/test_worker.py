"""The worker loop as the Procfile runs it."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from notifications.models import Event, Notification
from orders.models import Order
from timers.worker import Worker


@pytest.mark.django_db
def test_one_pass_runs_due_timers_fans_out_and_relays(submit, staff):
    order = submit()
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=31))
    stranded = Event.objects.create(recipient=staff, kind="test.stranded", payload={})
    Event.objects.filter(pk=stranded.pk).update(created_at=timezone.now() - timedelta(seconds=30))

    out = io.StringIO()
    call_command("run_worker", "--once", stdout=out)

    order.refresh_from_db()
    assert order.escalated_at is not None
    stranded.refresh_from_db()
    assert stranded.pushed_at is not None  # a push lost between commit and send reaches the phone
    assert not Notification.objects.filter(fanned_out_at__isnull=True).exists()
    assert "review_escalate" in out.getvalue()


@pytest.mark.django_db
def test_timers_run_every_tick_seconds_but_relay_every_pass(submit, staff, settings, monkeypatch):
    settings.SANDAN_TIMERS = {**settings.SANDAN_TIMERS, "TICK_SECONDS": 3600}
    calls = []
    monkeypatch.setattr("timers.worker.timers_tick", lambda **kw: calls.append(kw) or _Empty())
    worker = Worker(name="w")
    worker.run_once()
    worker.run_once()
    assert len(calls) == 1


class _Empty:
    fired: dict = {}
    total = 0


@pytest.mark.django_db
def test_a_backlog_is_worked_off_in_batches_between_relays(submit, staff, settings):
    settings.SANDAN_TIMERS = {**settings.SANDAN_TIMERS, "TICK_SECONDS": 3600}
    orders = [submit() for _ in range(3)]
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(created_at=timezone.now() - timedelta(minutes=31))
    worker = Worker(name="w", batch=2)
    first = worker.run_once()
    second = worker.run_once()  # backlog: no waiting for the next tick
    third = worker.run_once()  # finds nothing left...
    fourth = worker.run_once()  # ...so back to the tick schedule
    assert first["timers"] == {"review_escalate": 2}
    assert second["timers"] == {"review_escalate": 1}
    assert third["timers"] == {}
    assert "timers" not in fourth
    assert Order.objects.filter(escalated_at__isnull=False).count() == 3


def test_vapid_keys_command_prints_a_pair_pywebpush_can_sign_with():
    from py_vapid import Vapid

    out = io.StringIO()
    call_command("vapid_keys", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    signer = Vapid.from_string(private_key=lines["VAPID_PRIVATE_KEY"])
    headers = signer.sign({"sub": "mailto:ops@sandan.test", "aud": "https://push.example.net"})
    assert headers["Authorization"].startswith("vapid t=")
    assert lines["VAPID_PUBLIC_KEY"] in headers["Authorization"]
