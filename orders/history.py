"""Orders whose history happened elsewhere: imported from another system, or the demo city's
past orders. Their timelines were written by the services, step by step, a moment ago; this
moves them back in time, keeping each order's timestamps consistent with its timeline (the
statistics read both). Never used on a live order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderEvent

# The order's timestamp each timeline step sets.
STAMPS = {
    "accept": "reviewed_at",
    "reject": "reviewed_at",
    "dispatch": "dispatched_at",
    "claim": "claimed_at",
    "start": "started_at",
    "complete": "completed_at",
    "confirm": "closed_at",
}


@transaction.atomic
def order_backdate(*, order_id: int, start: datetime, gap: Callable[[str], timedelta]) -> Order:
    """Put the order's submission at `start` and each later step `gap(action)` after the one
    before it (never in the future). A timestamp the lifecycle cleared (a reopen clears the
    cycle's) stays cleared."""
    events = list(OrderEvent.objects.filter(order_id=order_id).order_by("id"))
    at = start
    fields: dict[str, datetime] = {"created_at": start}
    for event in events:
        if event.action != "submit":
            at = at + gap(event.action)
        event.at = min(at, timezone.now())
        if event.action in STAMPS:
            fields[STAMPS[event.action]] = event.at
    OrderEvent.objects.bulk_update(events, ["at"])
    order = Order.objects.get(pk=order_id)
    kept = {name: value for name, value in fields.items() if name == "created_at" or getattr(order, name) is not None}
    Order.objects.filter(pk=order_id).update(**kept)
    order.refresh_from_db()
    return order
