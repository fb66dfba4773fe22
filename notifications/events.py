"""The one way an event leaves the server.

`publish` writes one outbox row per recipient inside the caller's transaction and schedules
the push for after commit (zulip's `send_event_on_commit`). A rolled-back change therefore
sends nothing; a process that dies between commit and push leaves rows with `pushed_at`
unset, which `relay_unpushed` sends later. Clients de-duplicate by event id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from notifications.groups import user_group
from notifications.models import Event, Notification

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Kinds sent to people who may not see the resident's personal data (volunteers before a claim).
ANONYMOUS_KINDS = frozenset({"offer.new", "offer.withdrawn"})
PERSONAL_KEYS = frozenset({"address", "contact_phone", "phone", "lat", "lng", "resident"})


def _check_no_personal_data(kind: str, payload: Any) -> None:
    """Refuse (and so roll back) a change whose offer would carry an address or a phone: a
    programming error must not reach a stranger's phone."""
    if isinstance(payload, dict):
        leaked = PERSONAL_KEYS.intersection(payload)
        if leaked:
            raise ValueError(f"{kind} payload must not carry personal data: {sorted(leaked)}")
        for value in payload.values():
            _check_no_personal_data(kind, value)
    elif isinstance(payload, list):
        for value in payload:
            _check_no_personal_data(kind, value)


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
    if kind in ANONYMOUS_KINDS:
        _check_no_personal_data(kind, payload)
    events = Event.objects.bulk_create(
        [Event(recipient_id=uid, kind=kind, payload=payload, order_id=order_id) for uid in user_ids]
    )
    if notify is not None:
        title, body = notify
        Notification.objects.bulk_create(
            [Notification(user_id=uid, kind=kind, title=title, body=body, order_id=order_id) for uid in user_ids]
        )
    _push_after_commit(events)
    return events


def publish_each(
    *,
    kind: str,
    items: list[tuple[int, dict[str, Any]]],
    order_id: int | None = None,
    notify: tuple[str, str] | None = None,
) -> list[Event]:
    """`publish` with a payload of its own for each (recipient, payload), in one INSERT.

    For offers, where each volunteer's payload carries their own offer id and distance: a
    dispatch to 20 volunteers writes 2 rows-batches instead of 40 single-row statements."""
    if not items:
        return []
    if kind in ANONYMOUS_KINDS:
        for _, payload in items:
            _check_no_personal_data(kind, payload)
    events = Event.objects.bulk_create(
        [Event(recipient_id=uid, kind=kind, payload=payload, order_id=order_id) for uid, payload in items]
    )
    if notify is not None:
        title, body = notify
        Notification.objects.bulk_create(
            [
                Notification(user_id=uid, kind=kind, title=title, body=body, order_id=order_id)
                for uid in dict.fromkeys(uid for uid, _ in items)
            ]
        )
    _push_after_commit(events)
    return events


class _Batch:
    """Every event one transaction publishes, pushed together by one on-commit callback."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        # Whether some rows were written inside a savepoint, which may have rolled back alone.
        self.in_savepoint = False

    def flush(self) -> None:
        held = _held_pushes.get()
        if held is not None:
            held.append(self)  # committed; `call_holding_pushes`' caller pushes it
            return
        self.push()

    def push(self) -> None:
        # Rows written outside any savepoint committed with the transaction that runs this
        # callback: no need to ask the database which of them exist (a read before every push).
        _push(self.events, committed=not self.in_savepoint)


# Set while `call_holding_pushes` runs: after-commit pushes are collected here instead of run.
_held_pushes: ContextVar[list[_Batch] | None] = ContextVar("sandan_held_pushes", default=None)


def call_holding_pushes(fn: Callable[..., T], /, **kwargs: Any) -> tuple[T, Callable[[], None]]:
    """Call `fn(**kwargs)`; return its result and the push of what its transactions committed,
    not yet run.

    For a reply that need not wait for the push: the socket's `claim.result` goes out as soon as
    the claim has committed, and the caller then runs the push (offers withdrawn, the address to
    the winner). The guarantees do not move: the rows committed with the change, the push still
    comes after the commit, and should it never run (the process dies in between) the relay
    sends the rows (`relay_unpushed`)."""
    held: list[_Batch] = []
    token = _held_pushes.set(held)
    try:
        result = fn(**kwargs)
    finally:
        _held_pushes.reset(token)

    def push() -> None:
        for batch in held:
            batch.push()

    return result, push


def _push_after_commit(events: list[Event]) -> None:
    """Schedule the push of `events` for after the commit of the current transaction.

    A dispatch to 20 volunteers calls `publish` two dozen times; one push per transaction (one
    trip to the event loop, one UPDATE) instead of one per call keeps offers fast. The batch
    lives on the connection while its callback is still pending in Django's `run_on_commit`:
    a rollback drops the callback (and so the batch), and a later transaction starts a new one.
    Rows of a rolled-back savepoint may sit in a live batch; they no longer exist, and the
    push of a batch with rows from a savepoint skips rows it cannot find (see `_push`), so
    nothing is sent for them.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _push(events)
        return
    batch = getattr(connection, "_sandan_outbox_batch", None)
    if batch is None or not any(callback == batch.flush for _, callback, *_ in connection.run_on_commit):
        batch = _Batch()
        connection._sandan_outbox_batch = batch  # type: ignore[attr-defined]
        transaction.on_commit(batch.flush)
    batch.events.extend(events)
    if connection.savepoint_ids:
        batch.in_savepoint = True


def push_events(event_ids: list[int]) -> None:
    """Push committed, not yet pushed events by id (the relay's way in)."""
    if event_ids:
        _push(list(Event.objects.filter(pk__in=event_ids, pushed_at__isnull=True).order_by("id")))


def _push(events: list[Event], *, committed: bool = False) -> None:
    """Hand committed events to the channel layer, in id order, then mark them pushed.

    Unless the caller knows every row `committed` (and a later mark is harmless), only rows
    that exist and are still unpushed are sent: a row of a rolled-back savepoint is gone and
    sends nothing. A channel-layer failure (Redis down) is logged and leaves the rest
    unmarked for the relay, as does a process dying before the mark: the change itself has
    committed and must not be undone by a delivery problem. A row sent twice (the relay racing
    a slow push) is dropped by the consumer and the client by its id.
    """
    if not events:
        return
    unpushed = Event.objects.filter(pk__in={e.pk for e in events}, pushed_at__isnull=True).order_by("id")
    if committed:
        todo = sorted(events, key=lambda e: e.pk)
    elif connection.vendor == "sqlite":
        # Read back: SQLite may give a rolled-back savepoint's id to a later row of the batch.
        todo = list(unpushed)
    else:
        # Sequences never hand out an id twice: the ids alone say which rows committed.
        existing = set(unpushed.values_list("id", flat=True))
        todo = sorted((e for e in events if e.pk in existing), key=lambda e: e.pk)
    if not todo:
        return
    pushed: list[int] = []
    layer = get_channel_layer()
    if layer is None:
        pushed = [e.pk for e in todo]
    else:
        try:
            async_to_sync(_send_all)(layer, todo, pushed)
        except Exception:  # noqa: BLE001 - any layer failure: the relay retries later
            logger.warning("channel layer unavailable; %d events left for the relay", len(todo) - len(pushed))
    if pushed:
        Event.objects.filter(pk__in=pushed).update(pushed_at=timezone.now())


async def _send_all(layer: Any, events: list[Event], pushed: list[int]) -> None:
    messages = [(user_group(e.recipient_id), {"type": "outbox.event", "event": e.as_frame()}) for e in events]
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:
        # One pipelined round trip to Redis for the whole push (notifications/layers.py),
        # in id order: each recipient still gets its events in order.
        sent = await send_many(messages)
        pushed.extend(events[n].pk for n in sent)
        if len(sent) < len(events):
            # A shard is away (REDIS_URLS): the rest went; these wait for the relay.
            logger.warning(
                "a channel-layer shard is unavailable; %d events left for the relay", len(events) - len(sent)
            )
        return
    for event, (group, message) in zip(events, messages, strict=True):
        await layer.group_send(group, message)
        pushed.append(event.pk)


def relay_unpushed(*, older_than_seconds: float = 2.0, limit: int = 500) -> int:
    """Push events whose after-commit push never happened. Returns how many were pushed.

    Idempotent and safe to run in several workers: rows are taken with FOR UPDATE SKIP LOCKED
    (on PostgreSQL), so two relays never push the same row at once; a row pushed twice anyway
    (a push that died before marking) is dropped by the consumer and the client by its id.
    The grace period leaves fresh rows to their own after-commit push."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    with transaction.atomic():
        ids = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(pushed_at__isnull=True, created_at__lte=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        push_events(ids)
        return Event.objects.filter(pk__in=ids, pushed_at__isnull=False).count()


def outbox_forget(
    *, recipient_id: int, order_id: int, keys: Iterable[str], actors: dict[str, str] | None = None
) -> int:
    """Strip `keys` from the order inside every outbox event of `recipient_id` about
    `order_id`, and rename the timeline actors named in `actors`: someone who no longer may
    see them (a volunteer who released the order) must not get them back by resuming from an
    old cursor. Returns how many events were looked at."""
    events = list(Event.objects.filter(recipient_id=recipient_id, order_id=order_id))
    dropped = tuple(keys)
    renamed = actors or {}
    for event in events:
        payload = event.payload if isinstance(event.payload, dict) else {}
        inner = payload.get("order")
        if isinstance(inner, dict):
            for key in dropped:
                inner.pop(key, None)
        step = payload.get("event")
        if isinstance(step, dict) and step.get("actor") in renamed:
            step["actor"] = renamed[step["actor"]]
    Event.objects.bulk_update(events, ["payload"])
    return len(events)
