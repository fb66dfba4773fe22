from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from volunteers.models import Area, Branch, LocationPing, Skill, Volunteer, VolunteerRecord


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "parent", "center_lat", "center_lng"]
    list_filter = ["level", "parent"]
    search_fields = ["name"]
    autocomplete_fields = ["parent", "staff"]
    list_select_related = ["parent"]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "area", "member_count"]
    list_filter = ["kind", "area__parent"]
    search_fields = ["name", "area__name"]
    autocomplete_fields = ["area", "secretaries", "categories"]
    list_select_related = ["area"]

    @admin.display(description=_("members"))
    def member_count(self, branch: Branch) -> int:
        return branch.members.count()


class VolunteerRecordInline(admin.StackedInline):
    """The counts the lifecycle keeps (read-only: `manage.py rebuild_volunteer_records`
    recounts them from the orders if they are ever in doubt)."""

    model = VolunteerRecord
    fields = ("held", "finished", "dropped", "rating_count", "rating_sum")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Volunteer)
class VolunteerAdmin(admin.ModelAdmin):
    inlines = [VolunteerRecordInline]
    list_display = ["user", "on_duty", "capacity", "service_radius_km", "live_at"]
    list_filter = ["on_duty", "branches", "skills"]
    search_fields = ["user__username", "user__display_name"]
    autocomplete_fields = ["user", "branches", "skills"]
    list_select_related = ["user"]


@admin.register(LocationPing)
class LocationPingAdmin(admin.ModelAdmin):
    list_display = ["volunteer", "lat", "lng", "at"]
    list_filter = ["at"]
    search_fields = ["volunteer__user__username"]
    autocomplete_fields = ["volunteer"]
    list_select_related = ["volunteer__user"]
