"""A balance always equals the sum of its entries and never goes below zero: checked on
random sequences of credits, adjustments and spends (hypothesis), and under real concurrent
spending against PostgreSQL (threads with their own connections)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.services import order_timebank_adjust as timebank_adjust
from tests.stats.builders import build
from timebank import services as timebank_services
from timebank.errors import InsufficientBalance
from timebank.models import Account, Entry, RedemptionItem
from timebank.services import timebank_redeem


def timebank_credit_order(*, order):
    """What closing `order` credits (the orders service makes this one call)."""
    return timebank_services.timebank_credit_order(
        order_id=order.pk, user_id=order.volunteer.user_id, hours=order.hours, max_hours=order.category.max_hours
    )


hours = st.decimals(min_value=Decimal("0.25"), max_value=Decimal("6"), places=2)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), hours),
        st.tuples(st.just("adjust"), hours),
        st.tuples(st.just("correct"), hours),  # a negative adjustment
        st.tuples(st.just("redeem"), hours),
    ),
    min_size=1,
    max_size=12,
)


def ledger_sum(account: Account) -> Decimal:
    # SQLite sums decimals as floating point; the ledger's unit is the hundredth of an hour.
    total = Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or Decimal("0")
    return Decimal(total).quantize(Decimal("0.01"))


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_balance_equals_the_sum_of_entries_and_never_goes_negative(ops, errands, world, resident, secretary, volunteer):
    v = volunteer.volunteer
    expected = Account.objects.get_or_create(user=volunteer)[0].balance
    for kind, amount in ops:
        if kind == "credit":
            # A freshly closed order of `amount` hours; the category credits at most 5.
            order = build(
                branch=world.north_branch,
                resident=resident,
                status="closed",
                created="2026-03-02 09:00",
                volunteer=v,
                hours=str(amount),
            )
            timebank_credit_order(order=order)
            expected += min(amount, Decimal("5"))
        elif kind in ("adjust", "correct"):
            order = build(
                branch=world.north_branch,
                resident=resident,
                status="closed",
                created="2026-03-02 09:00",
                volunteer=v,
                hours="1",
            )
            signed = amount if kind == "adjust" else -amount
            try:
                timebank_adjust(actor=secretary, user_id=volunteer.pk, order_id=order.pk, amount=signed, reason="fix")
                expected += signed
            except InsufficientBalance:
                assert expected + signed < 0
        else:
            item = RedemptionItem.objects.create(name="Meal", cost=amount)
            try:
                timebank_redeem(user=volunteer, item_id=item.pk)
                expected -= amount
            except InsufficientBalance:
                assert expected < amount
        account = Account.objects.get(user=volunteer)
        assert account.balance == expected
        assert account.balance == ledger_sum(account)
        assert account.balance >= 0
        # Hours given never fall below what is left to spend.
        assert account.earned >= account.balance
        last = Entry.objects.filter(account=account).order_by("-id").first()
        assert last is None or last.balance_after == account.balance


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_spending_never_goes_below_zero(errands, world, resident, volunteer):
    """Eight threads, each with its own connection, spend 1 hour at once from a balance of 3:
    exactly three win, the others are told the balance is too low."""
    order = build(
        branch=world.north_branch,
        resident=resident,
        status="closed",
        created="2026-03-02 09:00",
        volunteer=volunteer.volunteer,
        hours="3",
    )
    timebank_credit_order(order=order)
    item = RedemptionItem.objects.create(name="Haircut", cost=Decimal("1"))
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def spend() -> None:
        try:
            barrier.wait()
            timebank_redeem(user=volunteer, item_id=item.pk)
            result = "ok"
        except InsufficientBalance:
            result = "refused"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    account = Account.objects.get(user=volunteer)
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 5
    assert account.balance == Decimal("0") == ledger_sum(account)
    balances = list(Entry.objects.filter(account=account).order_by("id").values_list("balance_after", flat=True))
    assert balances == [Decimal("3"), Decimal("2"), Decimal("1"), Decimal("0")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_credits_and_spends_keep_the_sum(errands, world, resident, volunteer):
    """Credits and spends racing on one account: the balance is the sum of the entries."""
    v = volunteer.volunteer
    orders = [
        build(
            branch=world.north_branch,
            resident=resident,
            status="closed",
            created="2026-03-02 09:00",
            volunteer=v,
            hours="1",
        )
        for _ in range(6)
    ]
    item = RedemptionItem.objects.create(name="Tea", cost=Decimal("0.5"))
    barrier = threading.Barrier(12)
    errors: list[BaseException] = []

    def credit(order) -> None:
        try:
            barrier.wait()
            timebank_credit_order(order=order)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def spend() -> None:
        try:
            barrier.wait()
            timebank_redeem(user=volunteer, item_id=item.pk)
        except InsufficientBalance:
            pass
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=credit, args=(o,)) for o in orders]
    threads += [threading.Thread(target=spend) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    account = Account.objects.get(user=volunteer)
    spent = Entry.objects.filter(account=account, kind=Entry.Kind.REDEMPTION).count()
    # 6 credits of 1 hour; each spend takes 0.5 and only when covered.
    assert account.balance == Decimal("6") - Decimal("0.5") * spent == ledger_sum(account)
    assert not Entry.objects.filter(balance_after__lt=0).exists()
