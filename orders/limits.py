"""How many orders a resident may post: ORDER_SUBMIT_RATE, e.g. "20/hour" (a sliding window).

The limit is decided inside the submit's transaction, by counting the resident's orders
created within the window, under a row lock on the resident's user row. Concurrent submits of
one resident queue on that lock, and each counts after the one before it has committed, so 60
requests at once create exactly as many orders as the rate allows, whatever the number of web
processes; nothing is kept in Redis, so an outage cannot open the gate or close it. Only
created orders count: a refused (400) request takes nothing from the allowance, and a retry
of a known Idempotency-Key returns its order before reaching here. On SQLite the lock is a
no-op and the IMMEDIATE transaction serialises the writers instead.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.errors import RateLimited
from orders.models import Order

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "20/hour" → (20, 3600)."""
    count, _slash, period = rate.partition("/")
    try:
        limit, seconds = int(count), PERIODS[period.strip()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"A rate is N/second, N/minute, N/hour or N/day, not {rate!r}") from None
    if limit < 1:
        raise ImproperlyConfigured(f"A rate allows at least 1, not {rate!r}")
    return limit, seconds


def order_submit_check_rate(*, resident, submitted_by=None, now: datetime | None = None) -> None:
    """Raise RateLimited when `resident` has posted ORDER_SUBMIT_RATE orders within its window.

    Call inside the transaction that creates the order: the lock taken here is held until it
    commits. A desk entering a walk-in or phone-in request (`submitted_by`) is not limited,
    and such orders do not count against the resident."""
    if submitted_by is not None:
        return
    limit, period = parse_rate(settings.SANDAN["ORDER_SUBMIT_RATE"])
    # FOR NO KEY UPDATE: serialises this resident's submits without blocking the rows that merely
    # reference the user (their outbox events, notifications, the order being inserted).
    get_user_model().objects.select_for_update(no_key=True).filter(pk=resident.pk).values_list("pk").first()
    moment = now or timezone.now()
    recent = list(
        Order.objects.filter(
            resident=resident, submitted_by__isnull=True, created_at__gt=moment - timedelta(seconds=period)
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return
    # A slot frees when the oldest of the `limit` newest orders leaves the window.
    retry_after = math.ceil((recent[-1] + timedelta(seconds=period) - moment).total_seconds())
    raise RateLimited(
        _("You have posted as many requests as allowed for now; try again in %(minutes)s minutes.")
        % {"minutes": max(1, math.ceil(retry_after / 60))},
        retry_after=retry_after,
    )
