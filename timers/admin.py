from __future__ import annotations

from django.contrib import admin

from timers.models import DigestRun, TimerStep


@admin.register(TimerStep)
class TimerStepAdmin(admin.ModelAdmin):
    """What the SLA timers did, and which worker holds what. Read-only: the worker writes it."""

    list_display = ["id", "order", "step", "anchor", "state", "outcome", "owner", "lease_until", "attempts", "done_at"]
    list_filter = ["step", "state", "outcome"]
    search_fields = ["order__id", "owner"]
    list_select_related = ["order__category"]
    readonly_fields = [f.name for f in TimerStep._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(DigestRun)
class DigestRunAdmin(admin.ModelAdmin):
    list_display = ["day", "sent", "created_at"]
    readonly_fields = ["day", "sent", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False
