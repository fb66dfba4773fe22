"""Admin: the ledger is read-only here too; only redemption items are edited by staff."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from timebank.models import Account, Entry, Redemption, RedemptionItem


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "balance", "earned", "created_at"]
    search_fields = ["user__username", "user__display_name"]


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "kind", "amount", "balance_after", "order", "redemption", "actor", "created_at"]
    list_filter = ["kind"]
    search_fields = ["account__user__username", "reason"]
    raw_id_fields = ["order"]


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "item", "cost", "created_at"]


@admin.register(RedemptionItem)
class RedemptionItemAdmin(admin.ModelAdmin):
    list_display = ["name", "cost", "stock", "active"]
    list_filter = ["active"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: RedemptionItem, form, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]  # admin requires a signed-in staff user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Items that were redeemed stay for the history; retire them with `active` instead.
        return False
