from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import ResidentProfile, User


class ResidentProfileInline(admin.StackedInline):
    model = ResidentProfile
    can_delete = False
    autocomplete_fields = ["grid"]
    verbose_name_plural = _("resident profile")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    inlines = [ResidentProfileInline]
    list_display = ["username", "display_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["username", "display_name", "email", "resident__phone"]
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), (_("Sandan"), {"fields": ("display_name",)}))


@admin.register(ResidentProfile)
class ResidentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "phone", "grid"]
    list_filter = ["grid__parent"]
    search_fields = ["user__username", "user__display_name", "phone", "address"]
    autocomplete_fields = ["user", "grid"]
    list_select_related = ["user", "grid"]
