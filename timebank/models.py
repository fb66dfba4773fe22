"""The time bank (愛心銀行): an append-only ledger of volunteer hours.

`Account.balance` is a running total kept next to the entries so that a spend can be
decided on one locked row; `Entry.balance_after` records it at every step, so the history
can be audited: an account's balance always equals the sum of its entries' amounts.

Nothing here is ever edited or deleted. `Entry`, `Redemption` refuse `save()` on an
existing row and `delete()`; their querysets refuse `update()` and `delete()`; on
PostgreSQL a trigger (migration 0002) refuses UPDATE and DELETE on the entries table too,
so that not even raw SQL or a future bug can rewrite the history.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class LedgerIsAppendOnly(Exception):
    """Raised on any attempt to change or remove a ledger row."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerIsAppendOnly("ledger rows are never updated")

    def delete(self):
        raise LedgerIsAppendOnly("ledger rows are never deleted")

    _raw_delete = delete  # type: ignore[assignment]  # the bulk path Django uses, refused too


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise LedgerIsAppendOnly("ledger rows are never updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerIsAppendOnly("ledger rows are never deleted")


class Account(models.Model):
    """One per user: volunteers earn, and a resident who volunteers earns on the same account."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="timebank", verbose_name=_("user")
    )
    balance = models.DecimalField(_("balance (hours)"), max_digits=10, decimal_places=2, default=Decimal("0"))
    # Credits plus the desk's adjustments (redemptions left out): the leaderboard ranks by the
    # hours people gave, not by what they have left after spending.
    earned = models.DecimalField(_("hours earned"), max_digits=10, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(_("opened at"), auto_now_add=True)

    class Meta:
        verbose_name = _("time-bank account")
        verbose_name_plural = _("time-bank accounts")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="timebank_balance_never_negative")]
        indexes = [models.Index(fields=["-earned"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.balance} h"


class RedemptionItem(models.Model):
    """Something hours can be spent on, configured by staff (a haircut, a meal, a park ticket)."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    cost = models.DecimalField(
        _("cost (hours)"), max_digits=6, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    # Null = unlimited.
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("redemption item")
        verbose_name_plural = _("redemption items")
        ordering = ["cost", "name"]
        constraints = [models.CheckConstraint(condition=Q(cost__gt=0), name="timebank_item_cost_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.cost} h)"


class Redemption(AppendOnlyModel):
    """Hours spent on an item. The matching debit entry points here."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="redemptions")
    item = models.ForeignKey(RedemptionItem, on_delete=models.PROTECT, related_name="redemptions")
    # The price paid, kept even if staff later change the item's cost.
    cost = models.DecimalField(max_digits=6, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.account.user} → {self.item.name}"


class Entry(AppendOnlyModel):
    class Kind(models.TextChoices):
        CREDIT = "credit", _("hours credited for an order")
        ADJUSTMENT = "adjustment", _("adjustment by the branch")
        REDEMPTION = "redemption", _("redemption")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    # Signed: positive adds hours, negative spends or corrects them.
    amount = models.DecimalField(_("hours"), max_digits=8, decimal_places=2)
    balance_after = models.DecimalField(_("balance after"), max_digits=10, decimal_places=2)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="timebank_entries"
    )
    redemption = models.OneToOneField(Redemption, on_delete=models.PROTECT, null=True, blank=True, related_name="entry")
    reason = models.TextField(_("reason"), blank=True)
    # Null = the system (credit on close).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        constraints = [
            # Every entry points to its order or its redemption; an adjustment says why.
            models.CheckConstraint(
                condition=(Q(kind="credit") & Q(order__isnull=False) & Q(redemption__isnull=True))
                | (Q(kind="adjustment") & Q(order__isnull=False) & Q(redemption__isnull=True) & ~Q(reason=""))
                | (Q(kind="redemption") & Q(redemption__isnull=False) & Q(amount__lt=0)),
                name="timebank_entry_points_to_its_cause",
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="timebank_entry_balance_never_negative"),
            models.CheckConstraint(condition=~Q(amount=0), name="timebank_entry_amount_nonzero"),
        ]
        indexes = [models.Index(fields=["account", "-id"]), models.Index(fields=["order", "account"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+} h"
