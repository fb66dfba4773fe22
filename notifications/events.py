"""The one way an event leaves the server.

`publish` writes one outbox row per recipient inside the caller's transaction and schedules
the push for after commit (zulip's `send_event_on_commit`). A rolled-back change therefore
sends nothing; a process that dies between commit and push leaves rows with `pushed_at`
unset, which `relay_unpushed` sends later. Clients de-duplicate by event id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from notifications.groups import user_group
from notifications.models import Event, Notification

logger = logging.getLogger(__name__)


def publish(
    *,
    recipients: Iterable[int],
    kind: str,
    payload: dict[str, Any],
    order_id: int | None = None,
    notify: tuple[str, str] | None = None,
) -> list[Event]:
    """Record `kind` for each recipient (user id) and push it after commit.

    `notify` = (title, body) also stores a Notification for each recipient. Payloads must be
    built per audience by the caller: personal data goes only to recipients allowed to see it.
    """
    user_ids = sorted(set(recipients))
    if not user_ids:
        return []
    events = Event.objects.bulk_create(
        [Event(recipient_id=uid, kind=kind, payload=payload, order_id=order_id) for uid in user_ids]
    )
    if notify is not None:
        title, body = notify
        Notification.objects.bulk_create(
            [Notification(user_id=uid, kind=kind, title=title, body=body, order_id=order_id) for uid in user_ids]
        )
    ids = [e.pk for e in events]
    transaction.on_commit(lambda: push_events(ids))
    return events


def push_events(event_ids: list[int]) -> None:
    """Hand committed events to the channel layer and mark them pushed.

    A channel-layer failure (Redis down) is logged and leaves the rows unpushed for the relay:
    the change itself has already committed and must not be undone by a delivery problem.
    """
    if not event_ids:
        return
    layer = get_channel_layer()
    events = list(Event.objects.filter(pk__in=event_ids, pushed_at__isnull=True).order_by("id"))
    pushed: list[int] = []
    try:
        for event in events:
            if layer is not None:
                async_to_sync(layer.group_send)(
                    user_group(event.recipient_id), {"type": "outbox.event", "event": event.as_frame()}
                )
            pushed.append(event.pk)
    except Exception:  # noqa: BLE001 - any layer failure: the relay retries later
        logger.warning("channel layer unavailable; %d events left for the relay", len(events) - len(pushed))
    if pushed:
        Event.objects.filter(pk__in=pushed).update(pushed_at=timezone.now())


def relay_unpushed(*, older_than_seconds: float = 2.0, limit: int = 500) -> int:
    """Push events whose after-commit push never happened. Returns how many were pushed."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Event.objects.filter(pushed_at__isnull=True, created_at__lte=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    push_events(ids)
    return Event.objects.filter(pk__in=ids, pushed_at__isnull=False).count()
