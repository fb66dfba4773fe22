from __future__ import annotations

from django.utils import timezone

from notifications.models import Notification


def notifications_mark_read(*, user, ids: list[int] | None = None, all_: bool = False) -> int:
    """Mark the caller's notifications read. Scoped to the caller: other people's ids match nothing."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if not all_:
        qs = qs.filter(pk__in=ids or [])
    return qs.update(read_at=timezone.now())
