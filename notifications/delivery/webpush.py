"""Web Push (RFC 8030/8291/8292) through pywebpush, signed with the VAPID keys from settings.

The payload is encrypted for the subscription's keys, so the push service relaying it reads
nothing; it still carries only what the notification centre shows (title, body, order id).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone
from pywebpush import WebPushException, webpush

from notifications.models import PushSubscription

logger = logging.getLogger(__name__)

# Gone for good: the browser unsubscribed or the app was uninstalled.
GONE = {404, 410}
_session = requests.Session()


@dataclass
class PushResult:
    sent: int = 0
    gone: int = 0
    failed: int = 0


def vapid_configured() -> bool:
    return bool(settings.VAPID_PRIVATE_KEY and settings.VAPID_PUBLIC_KEY)


def push_send(*, subscriptions: list[PushSubscription], payload: dict[str, Any], ttl: int = 3600) -> PushResult:
    """Push `payload` to each subscription. Subscriptions the push service reports gone are
    deleted; other failures are counted (the caller retries)."""
    result = PushResult()
    data = json.dumps(payload, ensure_ascii=False)
    for sub in subscriptions:
        try:
            webpush(
                subscription_info={"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                data=data,
                vapid_private_key=settings.VAPID_PRIVATE_KEY,
                vapid_claims={"sub": settings.VAPID_SUBJECT},
                ttl=ttl,
                timeout=10,
                requests_session=_session,
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status in GONE:
                PushSubscription.objects.filter(pk=sub.pk).delete()
                result.gone += 1
            else:
                logger.warning("web push to subscription %s failed: %s", sub.pk, status)
                result.failed += 1
        except (requests.RequestException, ValueError) as exc:
            logger.warning("web push to subscription %s failed: %s", sub.pk, type(exc).__name__)
            result.failed += 1
        else:
            PushSubscription.objects.filter(pk=sub.pk).update(last_success_at=timezone.now())
            result.sent += 1
    return result
