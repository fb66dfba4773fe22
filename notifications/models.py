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

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

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
