from django.contrib import admin

from notifications.models import Event, Notification, RealtimeTicket


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
