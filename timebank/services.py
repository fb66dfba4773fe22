"""Every write to the time bank. The ledger is append-only: a service adds entries, never
changes one.

Invariant: for every account, `balance` = sum of its entries' amounts >= 0, and each
entry's `balance_after` is the balance right after it.

How it stays correct under concurrency: every posting locks the account row first
(`SELECT … FOR UPDATE` on PostgreSQL; on SQLite the IMMEDIATE transaction already holds the
write lock), reads the balance, refuses a spend that would go below zero, then writes the
new balance and the entry in the same transaction. Two concurrent spends of the same hours
queue on the row lock; the second sees the first's result and is refused. The CHECK
constraints `balance >= 0` back this up in the database.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from core.errors import InvalidInput, NotPermitted
from timebank.errors import InsufficientBalance, ItemNotFound, OutOfStock
from timebank.models import Account, Entry, Redemption, RedemptionItem

MAX_ADJUSTMENT = Decimal("24")
CENT = Decimal("0.01")


def _locked_account(user_id: int) -> Account:
    # get_or_create copes with two first postings racing to open the account (unique user).
    Account.objects.get_or_create(user_id=user_id)
    return Account.objects.select_for_update().get(user_id=user_id)


def _post(
    account: Account,
    *,
    kind: str,
    amount: Decimal,
    actor=None,
    order_id: int | None = None,
    redemption: Redemption | None = None,
    reason: str = "",
) -> Entry:
    """Add one entry to a locked account. The caller holds the account row lock."""
    balance = account.balance + amount
    if balance < 0:
        raise InsufficientBalance()
    # Hours given (credits and the desk's corrections, either way); spending is not giving less.
    earned = F("earned") if kind == Entry.Kind.REDEMPTION else F("earned") + amount
    Account.objects.filter(pk=account.pk).update(balance=balance, earned=earned)
    account.balance = balance
    return Entry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        balance_after=balance,
        order_id=order_id,
        redemption=redemption,
        reason=reason,
        actor=actor,
    )


@transaction.atomic
def timebank_credit_order(*, order_id: int, user_id: int, hours: Decimal | None, max_hours: Decimal) -> Entry | None:
    """On close, credit the volunteer (`user_id`) who did the order with the confirmed hours,
    capped by the category's `max_hours`. The orders service that closes the order calls it.

    A reopened order that is closed again never pays the same hours twice: the credit is
    the capped hours minus what this volunteer was already credited for this order (only
    the difference is credited, nothing if it is not positive). Hours credited before a
    reopen are not clawed back: they may have been spent and a balance never goes below
    zero; a secretary corrects them with an adjustment if the work was not done. Another
    volunteer who closes the reopened order is credited for their own work.
    Called inside `order_confirm`'s transaction: a rolled-back close credits nothing.
    """
    if not hours or hours <= 0:
        return None
    due = min(Decimal(hours), Decimal(max_hours)).quantize(CENT)
    account = _locked_account(user_id)
    already = Entry.objects.filter(account=account, order_id=order_id, kind=Entry.Kind.CREDIT).aggregate(
        total=Sum("amount")
    )["total"] or Decimal("0")
    delta = due - already
    if delta <= 0:
        return None
    reason = "" if not already else _("Closed again after a reopen: only the difference is credited.")
    return _post(account, kind=Entry.Kind.CREDIT, amount=delta, order_id=order_id, reason=reason)


@transaction.atomic
def timebank_adjust(
    *, actor, user_id: int, order_id: int, amount: Decimal, reason: str, volunteer_user_id: int | None
) -> Entry:
    """Correct the hours credited to `user_id` for an order, as a new entry with a reason.

    Who may adjust is the order's business: the caller (`orders.services.order_timebank_adjust`)
    has decided it, and says who holds the order now (`volunteer_user_id`). The person adjusted
    must be someone who did the order: its volunteer now, or someone credited for it before
    a reopen. Every problem with the input is reported at once. A negative adjustment cannot
    take the balance below zero (409 `insufficient_balance`); the account row lock makes that
    hold under concurrency.
    """
    text = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if not text:
        errors["reason"] = [_("A reason is required.")]
    amount = Decimal(amount).quantize(CENT)
    if amount == 0 or abs(amount) > MAX_ADJUSTMENT:
        errors["amount"] = [_("Adjust by a non-zero number of hours, at most 24 either way.")]
    did_it = (
        volunteer_user_id == user_id
        or Entry.objects.filter(account__user_id=user_id, order_id=order_id, kind=Entry.Kind.CREDIT).exists()
    )
    if not did_it:
        errors["user"] = [_("This person did not do this order.")]
    if errors:
        raise InvalidInput(fields=errors)
    account = _locked_account(user_id)
    return _post(account, kind=Entry.Kind.ADJUSTMENT, amount=amount, actor=actor, order_id=order_id, reason=text)


@transaction.atomic
def timebank_redeem(*, user, item_id: int) -> Redemption:
    """Spend hours on an item. Never below zero, never more items than in stock.

    Lock order: account row, then the item's stock by a conditional UPDATE
    (`stock > 0`), so two people taking the last item cannot both get it.
    """
    item = RedemptionItem.objects.filter(pk=item_id, active=True).first()
    if item is None:
        raise ItemNotFound()
    account = _locked_account(user.pk)
    if account.balance < item.cost:
        raise InsufficientBalance()
    if item.stock is not None:
        taken = RedemptionItem.objects.filter(pk=item.pk, stock__gt=0).update(stock=F("stock") - 1)
        if taken != 1:
            raise OutOfStock()
    redemption = Redemption.objects.create(account=account, item=item, cost=item.cost)
    _post(account, kind=Entry.Kind.REDEMPTION, amount=-item.cost, actor=user, redemption=redemption, reason=item.name)
    return redemption


@transaction.atomic
def redemption_item_create(
    *, actor, name: str, cost: Decimal, description: str = "", stock: int | None = None
) -> RedemptionItem:
    """Community or street staff put an item on offer (Django admin can too)."""
    if not actor.staff_areas.exists() and not actor.is_staff:
        raise NotPermitted(_("Only community or street staff configure redemption items."))
    if not (name or "").strip():
        raise InvalidInput(fields={"name": [_("Name the item.")]})
    if cost is None or cost <= 0:
        raise InvalidInput(fields={"cost": [_("The cost must be more than zero hours.")]})
    return RedemptionItem.objects.create(
        name=name.strip(), description=(description or "").strip(), cost=cost, stock=stock, created_by=actor
    )
