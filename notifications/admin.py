from django.contrib import admin

from notifications.models import Delivery, Event, Notification, NotificationPreference, PushSubscription, RealtimeTicket


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "recipient", "order", "created_at", "pushed_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["recipient__username", "order__id"]
    list_select_related = ["recipient", "order__category"]
    readonly_fields = ["recipient", "kind", "payload", "order", "created_at", "pushed_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["title", "user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user", "order"]


@admin.register(RealtimeTicket)
class RealtimeTicketAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "expires_at", "used_at"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    exclude = ["key"]  # a credential: never shown
    readonly_fields = ["user", "created_at", "expires_at", "used_at"]

    def has_add_permission(self, request) -> bool:
        return False


# --- delivery (notifications/delivery/) --------------------------------------------------------


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "push", "email", "sms", "quiet_start", "quiet_end", "updated_at"]
    list_filter = ["push", "email", "sms"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "user_agent", "created_at", "last_success_at"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    # The endpoint and keys are a credential to push to someone's phone: never shown.
    exclude = ["endpoint", "p256dh", "auth"]
    readonly_fields = ["user", "user_agent", "created_at", "last_success_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The delivery log: what went out by push, email and SMS, and why something did not."""

    list_display = ["id", "channel", "user", "status", "reason", "attempts", "created_at", "sent_at"]
    list_filter = ["channel", "status", "reason"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
