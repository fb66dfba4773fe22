"""Reads of the time bank."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Q, QuerySet

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


# --- the desk's view: the volunteers of the branches a secretary or staff member serves ------


def desk_accounts(branch_ids: Iterable[int], *, search: str = "", limit: int = 200) -> list[dict]:
    """Every volunteer of these branches with their balance and hours earned (0 before their
    first credit), by name. Two queries whatever the number of volunteers."""
    from volunteers.models import Volunteer

    volunteers = (
        Volunteer.objects.filter(branches__in=list(branch_ids))
        .select_related("user")
        .distinct()
        .order_by("user__username")
    )
    if search:
        volunteers = volunteers.filter(Q(user__username__icontains=search) | Q(user__first_name__icontains=search))
    people = list(volunteers[:limit])
    accounts = {a.user_id: a for a in Account.objects.filter(user_id__in=[v.user_id for v in people])}
    zero = Decimal("0.00")
    return [
        {
            "user_id": v.user_id,
            "name": str(v.user),
            "balance": accounts[v.user_id].balance if v.user_id in accounts else zero,
            "earned": accounts[v.user_id].earned if v.user_id in accounts else zero,
        }
        for v in people
    ]


def desk_member_ids(branch_ids: Iterable[int]) -> set[int]:
    """User ids of the volunteers of these branches: whose ledger this desk may read."""
    from volunteers.models import Volunteer

    return set(Volunteer.objects.filter(branches__in=list(branch_ids)).values_list("user_id", flat=True))


def desk_entries(user_ids: Iterable[int], *, kind: str, limit: int = 50) -> QuerySet[Entry]:
    """The newest entries of one kind (redemption, adjustment) of these people."""
    return (
        Entry.objects.filter(account__user_id__in=list(user_ids), kind=kind)
        .select_related("account__user", "actor", "order", "redemption__item")
        .order_by("-id")[:limit]
    )
