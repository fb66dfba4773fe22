"""Hand-built orders with chosen timestamps (the services stamp `now`; figures need history)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from orders.models import Category, Order, Rating
from tests.factories import OrderFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """'2026-03-02 09:00' in Asia/Shanghai, aware."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def build(
    *,
    branch,
    resident,
    status: str,
    created: str,
    review: int | None = None,
    dispatch: int | None = None,
    claim: int | None = None,
    start: int | None = None,
    complete: int | None = None,
    volunteer=None,
    ratings: tuple[int, ...] = (),
    reopened: int = 0,
    category: str = "errands",
    hours: str | None = None,
) -> Order:
    """An order of `branch` created at `created`; each step given as minutes after the
    previous one (review after creation, dispatch after review, claim after dispatch...)."""
    at = local(created)
    stamps: dict[str, datetime | None] = {"created_at": at}
    for field, minutes in (
        ("reviewed_at", review),
        ("dispatched_at", dispatch),
        ("claimed_at", claim),
        ("started_at", start),
        ("completed_at", complete),
    ):
        if minutes is None:
            continue
        at = at + timedelta(minutes=minutes)
        stamps[field] = at
    if status == "closed":
        stamps["closed_at"] = at + timedelta(hours=1)
    order = OrderFactory(
        branch=branch,
        resident=resident,
        category=Category.objects.get(code=category),
        status=status,
        volunteer=volunteer,
        reopen_count=reopened,
        hours=hours,
    )
    Order.objects.filter(pk=order.pk).update(**stamps)
    for stars in ratings:
        Rating.objects.create(order=order, volunteer=volunteer, rating=stars)
    order.refresh_from_db()
    return order
