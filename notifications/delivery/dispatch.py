"""From the notification centre to phones and mailboxes (run by the worker every second).

1. Fan-out: every stored `Notification` not yet fanned out gets a `Delivery` row per outside
   channel the person wants (push for everything if they have subscribed; email for
   escalations; SMS for status notices to residents who chose it). Quiet hours skip the push
   and hold the SMS until they end — unless the order is urgent. Rows are taken with
   `FOR UPDATE SKIP LOCKED`, and (notification, channel) is unique, so two workers never
   fan one notification out twice.
2. Send: pending deliveries are leased (status `sending` + expiry) in a short transaction,
   sent outside any transaction, then marked. A worker that dies mid-send leaves a lease that
   expires and is retried: delivery is at least once, and a push or email is idempotent enough
   for the reader (the same title twice), never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from notifications.delivery.email import email_send
from notifications.delivery.preferences import Prefs, prefs_for, prefs_for_many
from notifications.delivery.sms import sms_send
from notifications.delivery.webpush import push_send, vapid_configured
from notifications.models import Delivery, Notification, PushSubscription

logger = logging.getLogger(__name__)

# Kinds worth an email: a person has to act (escalations); the daily digest is sent apart.
EMAIL_KINDS = frozenset({"order.escalated"})
# Kinds worth a text message: what happens to a resident's own request.
SMS_KINDS = frozenset({"order.notice"})
# An offer is worth nothing once it has lapsed: its push expires with it.
SHORT_LIVED_KINDS = frozenset({"offer.new", "order.reminder"})
MAX_ATTEMPTS = 5
LEASE = timedelta(seconds=60)


@dataclass
class RunReport:
    fanned_out: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return self.__dict__.copy()


def _urgent(notification: Notification) -> bool:
    return bool(notification.order_id and notification.order and notification.order.urgency == "urgent")


def channels_for(
    notification: Notification, prefs: Prefs, *, has_push: bool, has_email: bool, has_phone: bool, now: datetime
) -> list[tuple[str, str, str, datetime | None]]:
    """(channel, status, reason, not_before) for each outside channel this notification takes."""
    out: list[tuple[str, str, str, datetime | None]] = []
    quiet = prefs.is_quiet(now) and not _urgent(notification)
    if prefs.push and has_push:
        if quiet:
            out.append((Delivery.Channel.PUSH, Delivery.Status.SKIPPED, "quiet_hours", None))
        else:
            out.append((Delivery.Channel.PUSH, Delivery.Status.PENDING, "", None))
    if notification.kind in EMAIL_KINDS and prefs.email:
        if has_email:
            out.append((Delivery.Channel.EMAIL, Delivery.Status.PENDING, "", None))
        else:
            out.append((Delivery.Channel.EMAIL, Delivery.Status.SKIPPED, "no_address", None))
    if notification.kind in SMS_KINDS and prefs.sms and has_phone:
        held = prefs.quiet_until(now) if quiet else None
        out.append((Delivery.Channel.SMS, Delivery.Status.PENDING, "quiet_hours" if held else "", held))
    return out


def notifications_fan_out(*, now: datetime, limit: int = 500) -> int:
    """Decide the outside channels of up to `limit` new notifications. Returns how many."""
    with transaction.atomic():
        batch = list(
            Notification.objects.filter(fanned_out_at__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("order")
            .order_by("id")[:limit]
        )
        if not batch:
            return 0
        user_ids = sorted({n.user_id for n in batch})
        prefs = prefs_for_many(user_ids)
        with_push = set(PushSubscription.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
        users = {
            u.pk: u
            for u in get_user_model()
            .objects.filter(pk__in=user_ids)
            .select_related("resident")
            .only("id", "email", "resident__phone")
        }
        rows: list[Delivery] = []
        for n in batch:
            user = users.get(n.user_id)
            profile = getattr(user, "resident", None) if user is not None else None
            for channel, status, reason, not_before in channels_for(
                n,
                prefs[n.user_id],
                has_push=n.user_id in with_push,
                has_email=bool(user and user.email),
                has_phone=bool(profile and profile.phone),
                now=now,
            ):
                rows.append(
                    Delivery(
                        notification=n,
                        user_id=n.user_id,
                        channel=channel,
                        status=status,
                        reason=reason,
                        not_before=not_before,
                        sent_at=None,
                    )
                )
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        Notification.objects.filter(pk__in=[n.pk for n in batch]).update(fanned_out_at=now)
        return len(batch)


def _lease(*, now: datetime, limit: int) -> list[int]:
    ready = Q(status=Delivery.Status.PENDING) & (Q(not_before__isnull=True) | Q(not_before__lte=now))
    stuck = Q(status=Delivery.Status.SENDING, lease_until__lte=now)
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(ready | stuck)
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Delivery.objects.filter(pk__in=ids).update(
                status=Delivery.Status.SENDING, lease_until=now + LEASE, attempts=F("attempts") + 1
            )
    return ids


def _push_payload(n: Notification, prefs: Prefs) -> dict[str, Any]:
    """What the service worker shows (web/static/web/sw.js): the page to open on a tap, and
    whether the phone may vibrate (the person's switch)."""
    if n.kind == "offer.new":
        url = "/volunteer/"
    elif n.order_id:
        url = f"/orders/{n.order_id}/"
    else:
        url = "/"
    return {
        "title": n.title,
        "body": n.body,
        "kind": n.kind,
        "order": n.order_id,
        "notification": n.pk,
        "url": url,
        "vibrate": prefs.vibrate,
        "sound": prefs.sound,
    }


def _send_one(delivery: Delivery) -> tuple[str, str]:
    """Send one delivery. Returns (status, reason)."""
    n = delivery.notification
    if n is None:
        return Delivery.Status.SKIPPED, "no_notification"
    if delivery.channel == Delivery.Channel.PUSH:
        if not vapid_configured():
            return Delivery.Status.SKIPPED, "no_vapid"
        subs = list(PushSubscription.objects.filter(user_id=delivery.user_id))
        if not subs:
            return Delivery.Status.SKIPPED, "no_subscription"
        ttl = 600 if n.kind in SHORT_LIVED_KINDS else 24 * 3600
        payload = _push_payload(n, prefs_for(delivery.user_id))
        result = push_send(subscriptions=subs, payload=payload, ttl=ttl)
        if result.sent:
            return Delivery.Status.SENT, ""
        if result.failed:
            raise RuntimeError("push service unavailable")
        return Delivery.Status.SKIPPED, "gone"
    if delivery.channel == Delivery.Channel.EMAIL:
        email = get_user_model().objects.filter(pk=delivery.user_id).values_list("email", flat=True).first()
        if not email:
            return Delivery.Status.SKIPPED, "no_address"
        email_send(to=email, subject=n.title, body=_email_body(n))
        return Delivery.Status.SENT, ""
    if delivery.channel == Delivery.Channel.SMS:
        phone = get_user_model().objects.filter(pk=delivery.user_id).values_list("resident__phone", flat=True).first()
        if not phone:
            return Delivery.Status.SKIPPED, "no_phone"
        sms_send(phone=phone, text=f"{n.title} {n.body}".strip())
        return Delivery.Status.SENT, ""
    return Delivery.Status.SKIPPED, "unknown_channel"


def _email_body(n: Notification) -> str:
    lines = [n.title, ""]
    if n.body:
        lines += [n.body, ""]
    if n.order_id:
        lines.append(_("Open request #%(id)d in Sandan to handle it.") % {"id": n.order_id})
    return "\n".join(lines)


def deliveries_send(*, now: datetime, limit: int = 100) -> RunReport:
    """Send up to `limit` due deliveries."""
    report = RunReport()
    ids = _lease(now=now, limit=limit)
    for delivery in Delivery.objects.filter(pk__in=ids).select_related("notification__order").order_by("id"):
        try:
            status, reason = _send_one(delivery)
        except Exception as exc:  # noqa: BLE001 - any sender failure: retried, then logged as failed
            # Retry with backoff; after MAX_ATTEMPTS the log says failed and a person can look.
            logger.warning("delivery %s (%s) failed: %s", delivery.pk, delivery.channel, type(exc).__name__)
            if delivery.attempts >= MAX_ATTEMPTS:
                Delivery.objects.filter(pk=delivery.pk).update(
                    status=Delivery.Status.FAILED, reason=type(exc).__name__[:40], lease_until=None
                )
                report.failed += 1
            else:
                Delivery.objects.filter(pk=delivery.pk).update(
                    status=Delivery.Status.PENDING,
                    reason=type(exc).__name__[:40],
                    lease_until=None,
                    not_before=now + timedelta(seconds=30 * 2**delivery.attempts),
                )
            continue
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status, reason=reason, lease_until=None, sent_at=now if status == Delivery.Status.SENT else None
        )
        if status == Delivery.Status.SENT:
            report.sent += 1
        else:
            report.skipped += 1
    return report


def deliveries_run(*, now: datetime, worker: str = "") -> dict[str, int]:
    """One pass of the worker: fan out what is new, then send what is due."""
    fanned = notifications_fan_out(now=now)
    report = deliveries_send(now=now)
    report.fanned_out = fanned
    return report.as_dict()
