from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    """The outbox: one row per recipient per event, written in the same transaction as the
    change that caused it. The id is the client's resume cursor (monotonic)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Set once the push to the recipient's group has been handed to the channel layer; the
    # relay re-pushes rows left unset by a process that died between commit and push.
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events (outbox)")
        indexes = [
            models.Index(fields=["recipient", "id"]),
            models.Index(fields=["created_at"], condition=Q(pushed_at__isnull=True), name="event_unpushed"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id}"

    def as_frame(self) -> dict:
        return {
            "type": "event",
            "id": self.pk,
            "kind": self.kind,
            "payload": self.payload,
            "at": self.created_at.isoformat() if self.created_at else None,
        }


class Notification(models.Model):
    """What a person is told, kept with read / unread (the notification centre)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set once the worker has decided the outside channels (push, email, SMS) for it.
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["id"], condition=Q(fanned_out_at__isnull=True), name="notification_not_fanned_out"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def unread(self) -> bool:
        return self.read_at is None


class RealtimeTicket(models.Model):
    """A short-lived, single-use credential for opening /ws/ from an app (no cookie there).

    Stored in the database, not only in Redis, so that tickets survive a Redis outage."""

    key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("realtime ticket")
        verbose_name_plural = _("realtime tickets")

    def __str__(self) -> str:
        return f"ticket for {self.user_id}"


# --- delivery beyond the socket: preferences, Web Push subscriptions, the delivery log ---------


class NotificationPreference(models.Model):
    """How a person wants to be reached. No row = the defaults below.

    During quiet hours nothing buzzes a phone (no push, no SMS) unless the order is urgent;
    the notification centre and email are unaffected."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    push = models.BooleanField(_("push to my phone"), default=True)
    email = models.BooleanField(_("email"), default=True)
    sms = models.BooleanField(_("text messages"), default=False)
    # While the volunteer page is open: a short sound and a vibration when an offer arrives.
    sound = models.BooleanField(_("sound in the open app"), default=True)
    vibrate = models.BooleanField(_("vibration"), default=True)
    # Local time (TIME_ZONE); may wrap midnight (22:00–07:00). Both set or both empty.
    quiet_start = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet until"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_start__isnull=True, quiet_end__isnull=True)
                | Q(quiet_start__isnull=False, quiet_end__isnull=False),
                name="quiet_hours_both_or_neither",
            )
        ]

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


class PushSubscription(models.Model):
    """A browser's or app's Web Push endpoint (the PushSubscription JSON of the Push API)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"push for {self.user_id}"


class Delivery(models.Model):
    """The delivery log: one row per notification per outside channel (push, email, SMS).

    Written by the worker's fan-out from the stored notifications, sent by the worker; a row
    never holds a phone number or an address, only the channel and the outcome."""

    class Channel(models.TextChoices):
        PUSH = "push", _("Web Push")
        EMAIL = "email", _("email")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        SKIPPED = "skipped", _("skipped")
        FAILED = "failed", _("failed")

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    # Why it was skipped or failed ("quiet_hours", "no_subscription", "gone", ...).
    reason = models.CharField(max_length=40, blank=True)
    # Held back until then (an SMS during quiet hours waits for the morning).
    not_before = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel"),
        ]
        indexes = [
            models.Index(
                fields=["status", "not_before"],
                condition=Q(status__in=["pending", "sending"]),
                name="delivery_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.user_id} ({self.status})"
