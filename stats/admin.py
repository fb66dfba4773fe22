"""Admin: samples and calls are shown, not edited — a result must go through
`stats.services.review_record` so that it lands on the order's timeline."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from stats.models import ReviewItem, ReviewSample


class ReviewItemInline(admin.TabularInline):
    model = ReviewItem
    fields = ("order", "result", "note", "reviewer", "reviewed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ReviewSample)
class ReviewSampleAdmin(admin.ModelAdmin):
    list_display = ["id", "branch", "area", "start", "end", "percent", "population", "drawn_by", "created_at"]
    inlines = [ReviewItemInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
