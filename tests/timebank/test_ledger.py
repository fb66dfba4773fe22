"""The time bank: credits on close, adjustments, redemptions, and a ledger nobody rewrites."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from orders import services
from orders.errors import InvalidInput, NotPermitted, OrderError
from orders.models import Category
from orders.services import order_timebank_adjust as timebank_adjust
from tests.factories import ResidentProfileFactory
from timebank.errors import InsufficientBalance, OutOfStock
from timebank.models import Account, Entry, LedgerIsAppendOnly, RedemptionItem
from timebank.selectors import balance_of
from timebank.services import timebank_redeem

pytestmark = pytest.mark.django_db


def _complete(order, volunteer, hours):
    services.order_start(order_id=order.pk, user=volunteer)
    return services.order_complete(order_id=order.pk, user=volunteer, note="Done", hours=Decimal(hours))


def test_close_credits_the_volunteers_hours(submit, advance, volunteer):
    order = advance(submit(), "closed")  # the fixture completes with 1 hour
    entry = Entry.objects.get(order=order)
    assert entry.kind == Entry.Kind.CREDIT
    assert entry.account.user == volunteer
    assert entry.amount == Decimal("1.00")
    assert balance_of(volunteer.pk) == Decimal("1.00")


def test_credit_is_capped_by_the_category(submit, advance, volunteer, resident):
    Category.objects.filter(code="errands").update(max_hours=Decimal("2.5"))
    order = advance(submit(), "claimed")
    _complete(order, volunteer, "6")
    services.order_confirm(order_id=order.pk, user=resident, rating=4)
    # 6 hours reported, the category credits at most 2.5.
    assert balance_of(volunteer.pk) == Decimal("2.50")


def test_system_close_without_rating_credits_too(submit, advance, volunteer):
    order = advance(submit(), "completed")
    services.order_confirm(order_id=order.pk, user=None)
    assert balance_of(volunteer.pk) == Decimal("1.00")


def test_nothing_is_credited_when_the_close_is_refused(submit, advance, volunteer, other_resident):
    order = advance(submit(), "completed")
    with pytest.raises(OrderError):  # a stranger: 404
        services.order_confirm(order_id=order.pk, user=other_resident, rating=5)
    assert not Entry.objects.exists()


def test_reopen_and_close_again_credits_only_the_difference(submit, advance, volunteer, secretary, resident):
    Category.objects.filter(code="errands").update(max_hours=Decimal("4"))
    order = advance(submit(), "closed")  # 1 hour credited
    services.order_reopen(order_id=order.pk, user=resident, reason="The tap still drips")
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    services.order_claim(order_id=order.pk, user=volunteer)
    _complete(order, volunteer, "3")
    services.order_confirm(order_id=order.pk, user=resident, rating=5)
    # Second close: 3 hours due for this order, 1 already credited → a credit of 2, total 3.
    amounts = list(Entry.objects.filter(order=order).order_by("id").values_list("amount", flat=True))
    assert amounts == [Decimal("1.00"), Decimal("2.00")]
    assert balance_of(volunteer.pk) == Decimal("3.00")


def test_reopen_and_close_again_with_fewer_hours_credits_nothing_more(submit, advance, volunteer, secretary, resident):
    order = advance(submit(), "claimed")
    _complete(order, volunteer, "2")
    services.order_confirm(order_id=order.pk, user=resident, rating=5)
    services.order_reopen(order_id=order.pk, user=resident, reason="Not finished")
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    services.order_claim(order_id=order.pk, user=volunteer)
    _complete(order, volunteer, "1")
    services.order_confirm(order_id=order.pk, user=resident, rating=5)
    # 2 hours credited first; the second close is due 1 hour, less than already credited.
    assert Entry.objects.filter(order=order).count() == 1
    assert balance_of(volunteer.pk) == Decimal("2.00")


def test_a_resident_who_volunteers_earns_on_the_same_account(submit, advance, volunteer, world):
    ResidentProfileFactory(user=volunteer, grid=world.north)
    own_request = submit(user=volunteer)  # they ask for help too
    advance(submit(), "closed")  # and they help someone else
    assert own_request.resident == volunteer
    assert Account.objects.filter(user=volunteer).count() == 1
    assert balance_of(volunteer.pk) == Decimal("1.00")


def test_secretary_adjusts_with_a_reason(submit, advance, volunteer, secretary):
    order = advance(submit(), "closed")
    entry = timebank_adjust(
        actor=secretary, user_id=volunteer.pk, order_id=order.pk, amount=Decimal("0.5"), reason="Waited at the clinic"
    )
    assert entry.kind == Entry.Kind.ADJUSTMENT
    assert entry.actor == secretary
    assert balance_of(volunteer.pk) == Decimal("1.50")


def test_adjustment_needs_a_reason(submit, advance, volunteer, secretary):
    order = advance(submit(), "closed")
    with pytest.raises(InvalidInput) as caught:
        timebank_adjust(actor=secretary, user_id=volunteer.pk, order_id=order.pk, amount=Decimal("1"), reason=" ")
    assert "reason" in caught.value.fields


def test_another_branch_may_not_adjust(submit, advance, volunteer, other_secretary):
    order = advance(submit(), "closed")
    with pytest.raises(OrderError) as caught:
        timebank_adjust(
            actor=other_secretary, user_id=volunteer.pk, order_id=order.pk, amount=Decimal("5"), reason="Friend"
        )
    assert caught.value.status_code in (403, 404)
    assert balance_of(volunteer.pk) == Decimal("1.00")


def test_the_volunteer_may_not_adjust_their_own_credit(submit, advance, volunteer):
    order = advance(submit(), "closed")
    with pytest.raises(NotPermitted):
        timebank_adjust(actor=volunteer, user_id=volunteer.pk, order_id=order.pk, amount=Decimal("5"), reason="Me")


def test_a_negative_adjustment_cannot_go_below_zero(submit, advance, volunteer, secretary):
    order = advance(submit(), "closed")
    with pytest.raises(InsufficientBalance):
        timebank_adjust(
            actor=secretary, user_id=volunteer.pk, order_id=order.pk, amount=Decimal("-1.5"), reason="Overstated"
        )
    assert balance_of(volunteer.pk) == Decimal("1.00")


def test_redeem_spends_hours_and_points_to_the_redemption(submit, advance, volunteer):
    advance(submit(), "closed")
    item = RedemptionItem.objects.create(name="理髮 haircut", cost=Decimal("0.75"))
    redemption = timebank_redeem(user=volunteer, item_id=item.pk)
    entry = Entry.objects.get(redemption=redemption)
    assert entry.amount == Decimal("-0.75")
    assert entry.balance_after == Decimal("0.25")
    with pytest.raises(InsufficientBalance):
        timebank_redeem(user=volunteer, item_id=item.pk)
    assert balance_of(volunteer.pk) == Decimal("0.25")


def test_the_last_item_in_stock_goes_once(submit, advance, volunteer):
    advance(submit(), "closed")
    item = RedemptionItem.objects.create(name="Park ticket", cost=Decimal("0.1"), stock=1)
    timebank_redeem(user=volunteer, item_id=item.pk)
    with pytest.raises(OutOfStock):
        timebank_redeem(user=volunteer, item_id=item.pk)
    assert balance_of(volunteer.pk) == Decimal("0.90")


def test_entries_cannot_be_edited_or_deleted(submit, advance):
    entry = Entry.objects.get(order=advance(submit(), "closed"))
    entry.amount = Decimal("100")
    with pytest.raises(LedgerIsAppendOnly):
        entry.save()
    with pytest.raises(LedgerIsAppendOnly):
        entry.delete()
    with pytest.raises(LedgerIsAppendOnly):
        Entry.objects.filter(pk=entry.pk).update(amount=Decimal("100"))
    with pytest.raises(LedgerIsAppendOnly):
        Entry.objects.all().delete()
    assert Entry.objects.get(pk=entry.pk).amount == Decimal("1.00")


def test_the_database_refuses_a_raw_update_of_the_ledger(submit, advance):
    entry = Entry.objects.get(order=advance(submit(), "closed"))
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE timebank_entry SET amount = 100 WHERE id = %s", [entry.pk])
    assert Entry.objects.get(pk=entry.pk).amount == Decimal("1.00")


@pytest.mark.postgres
def test_postgres_refuses_a_raw_delete_of_the_ledger(submit, advance):
    entry = Entry.objects.get(order=advance(submit(), "closed"))
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM timebank_entry WHERE id = %s", [entry.pk])
    assert Entry.objects.filter(pk=entry.pk).exists()


def test_admin_shows_the_ledger_read_only(client, submit, advance, django_user_model):
    entry = Entry.objects.get(order=advance(submit(), "closed"))
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-sandan-root")
    client.force_login(admin)
    assert client.get("/admin/timebank/entry/").status_code == 200
    page = client.get(f"/admin/timebank/entry/{entry.pk}/change/")
    assert page.status_code == 200
    assert b'name="amount"' not in page.content  # shown, not editable
    assert client.post(f"/admin/timebank/entry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/timebank/entry/add/").status_code == 403
    assert Entry.objects.filter(pk=entry.pk).exists()


def test_earned_counts_corrections_but_not_spending(submit, advance, volunteer, secretary):
    order = advance(submit(), "closed")  # 1 hour credited
    timebank_adjust(actor=secretary, user_id=volunteer.pk, order_id=order.pk, amount=Decimal("-0.25"), reason="Less")
    timebank_redeem(user=volunteer, item_id=RedemptionItem.objects.create(name="Tea", cost=Decimal("0.5")).pk)
    account = Account.objects.get(user=volunteer)
    # earned: 1 − 0.25 = 0.75 (the spend does not count); balance: 0.75 − 0.5 = 0.25.
    assert (account.earned, account.balance) == (Decimal("0.75"), Decimal("0.25"))
