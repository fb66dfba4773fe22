"""Admin for community staff: find an order by status, branch or category, read its timeline.

The timeline is read-only here: it is written only by the lifecycle services."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from orders.models import Attachment, Category, IdempotencyKey, Offer, Order, OrderEvent, Rating
from volunteers.selectors import desk_branch_ids


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "group", "max_hours", "active", "sort"]
    list_filter = ["group", "active"]
    list_editable = ["active", "sort"]
    search_fields = ["code", "name", "name_en"]
    autocomplete_fields = ["skills"]


class TimelineInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "from_status", "to_status", "actor", "note")
    readonly_fields = fields
    ordering = ["at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class OfferInline(admin.TabularInline):
    model = Offer
    extra = 0
    can_delete = False
    fields = ("volunteer", "mode", "status", "rank", "distance_m", "created_at", "closed_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("volunteer__user")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class RatingInline(admin.TabularInline):
    model = Rating
    extra = 0
    can_delete = False
    fields = ("rating", "comment", "volunteer", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("volunteer__user")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "category", "status", "urgency", "branch", "resident", "volunteer", "created_at"]
    list_filter = ["status", "urgency", "category", "branch", "dispatch_mode", "created_at"]
    search_fields = ["id", "description", "resident__username", "resident__display_name", "branch__name"]
    date_hierarchy = "created_at"
    list_select_related = ["category", "branch", "resident", "volunteer__user"]
    autocomplete_fields = ["resident", "submitted_by", "branch", "volunteer", "grid", "category"]
    inlines = [TimelineInline, OfferInline, RatingInline]
    # The lifecycle fields move only through the services, so that the timeline stays true.
    readonly_fields = [
        "status",
        "volunteer",
        "dispatch_mode",
        "created_at",
        "updated_at",
        "reviewed_at",
        "dispatched_at",
        "claimed_at",
        "started_at",
        "completed_at",
        "closed_at",
        "escalated_at",
        "reopen_count",
    ]
    fieldsets = (
        (None, {"fields": ("status", "category", "description", "urgency", "branch", "grid", "volunteer")}),
        (_("Resident"), {"fields": ("resident", "submitted_by", "address", "contact_phone", "lat", "lng")}),
        (_("Window"), {"fields": ("window_start", "window_end")}),
        (_("Result"), {"fields": ("hours", "completion_note", "reopen_count")}),
        (
            _("Times"),
            {
                "classes": ("collapse",),
                "fields": (
                    "dispatch_mode",
                    "created_at",
                    "updated_at",
                    "reviewed_at",
                    "dispatched_at",
                    "claimed_at",
                    "started_at",
                    "completed_at",
                    "closed_at",
                    "escalated_at",
                ),
            },
        ),
    )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        # Community staff see the orders of the branches below them, nobody else's.
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(branch_id__in=desk_branch_ids(request.user))


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = ["order", "action", "from_status", "to_status", "actor", "at"]
    list_filter = ["action", "to_status", "order__branch"]
    search_fields = ["order__id", "note", "actor__username"]
    list_select_related = ["order__category", "actor"]
    readonly_fields = ["order", "action", "from_status", "to_status", "actor", "note", "data", "at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["order", "volunteer", "mode", "status", "rank", "distance_m", "created_at"]
    list_filter = ["status", "mode", "order__branch"]
    search_fields = ["order__id", "volunteer__user__username"]
    list_select_related = ["order__category", "volunteer__user"]
    autocomplete_fields = ["order", "volunteer"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["order", "rating", "volunteer", "created_at"]
    list_filter = ["rating", "order__branch", "order__category"]
    search_fields = ["order__id", "comment", "volunteer__user__username"]
    list_select_related = ["order__category", "volunteer__user"]
    autocomplete_fields = ["order", "volunteer"]


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["order", "kind", "content_type", "size", "uploaded_by", "created_at"]
    list_filter = ["kind", "content_type"]
    search_fields = ["order__id"]
    list_select_related = ["order__category", "uploaded_by"]
    autocomplete_fields = ["order", "uploaded_by"]
    exclude = ["file"]  # no public link: files are served only by the authorised API view
    readonly_fields = ["token", "extension", "content_type", "size", "duration_s"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "order", "created_at"]
    search_fields = ["key", "user__username", "order__id"]
    list_select_related = ["user", "order__category"]
    autocomplete_fields = ["user", "order"]
