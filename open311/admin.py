"""Admin: register an Open311 client (its api_key is shown once, on creation or rotation),
define the extra questions of a service, read what each client filed."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from open311 import services
from open311.models import Open311Client, Open311Request, ServiceAttribute


def _show_key(request: HttpRequest, client: Open311Client, key: str) -> None:
    messages.warning(
        request,
        _("The api_key of %(name)s is %(key)s — copy it now: it is stored only as a hash and cannot be shown again.")
        % {"name": client.name, "key": key},
    )


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "key_prefix", "active", "rate", "last_used_at", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "contact"]
    fields = ["name", "contact", "active", "rate", "key_prefix", "last_used_at", "created_at"]
    readonly_fields = ["key_prefix", "last_used_at", "created_at"]
    actions = ["rotate_key"]

    def save_model(self, request: HttpRequest, obj: Open311Client, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        client, key = services.client_register(name=obj.name, rate=obj.rate, contact=obj.contact, active=obj.active)
        obj.pk = client.pk
        obj.key_prefix, obj.key_hash, obj.created_at = client.key_prefix, client.key_hash, client.created_at
        _show_key(request, client, key)

    @admin.action(description=gettext_lazy("Issue a new api_key (the old one stops working)"))
    def rotate_key(self, request: HttpRequest, queryset: QuerySet[Open311Client]) -> None:
        for client in queryset:
            _show_key(request, client, services.client_rotate_key(client=client))


@admin.register(ServiceAttribute)
class ServiceAttributeAdmin(admin.ModelAdmin):
    list_display = ["category", "order", "code", "datatype", "required", "variable", "description"]
    list_filter = ["category", "datatype"]
    search_fields = ["code", "description"]


@admin.register(Open311Request)
class Open311RequestAdmin(admin.ModelAdmin):
    list_display = ["order", "client", "resident_created", "created_at"]
    list_filter = ["client"]
    fields = ["order", "client", "resident_created", "device_id", "media_url", "attributes", "created_at"]
    readonly_fields = ["order", "client", "resident_created", "device_id", "media_url", "attributes", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
