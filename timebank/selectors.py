"""Reads of the time bank."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet

from timebank.models import Account, Entry, RedemptionItem


def balance_of(user_id: int) -> Decimal:
    account = Account.objects.filter(user_id=user_id).only("balance").first()
    return account.balance if account is not None else Decimal("0.00")


def entries_of(user_id: int) -> QuerySet[Entry]:
    """The user's history, newest first, with what each entry points to."""
    return (
        Entry.objects.filter(account__user_id=user_id)
        .select_related("order__category", "redemption__item", "actor")
        .order_by("-id")
    )


def items_on_offer() -> QuerySet[RedemptionItem]:
    return RedemptionItem.objects.filter(active=True).exclude(stock=0).order_by("cost", "name")


def leaderboard(*, branch_ids: Iterable[int] | None = None, limit: int = 20) -> QuerySet[Account]:
    """Accounts ranked by hours earned (not by what is left after spending). With
    `branch_ids`, only members of those branches."""
    qs = Account.objects.filter(earned__gt=0).select_related("user")
    if branch_ids is not None:
        qs = qs.filter(user__volunteer__branches__in=list(branch_ids)).distinct()
    return qs.order_by("-earned", "user_id")[:limit]
