"""The time-bank desk (/timebank/manage/): secretaries and staff read their volunteers'
balances, redemptions and corrections, and correct an order's hours through the ledger
service. Who may see and do what."""

from __future__ import annotations

from decimal import Decimal

import pytest

from timebank.models import Entry
from timebank.services import redemption_item_create, timebank_redeem

pytestmark = pytest.mark.django_db

PAGE = "/timebank/manage/"


@pytest.fixture
def earned(submit, advance, volunteer):
    order = advance(submit(), "closed")  # 2 hours credited on close
    return order


def test_secretary_sees_own_volunteers_balances_and_redemptions(
    client, secretary, staff, volunteer, outsider_volunteer, earned
):
    item = redemption_item_create(actor=staff, name="Haircut", cost=Decimal("1"))
    timebank_redeem(user=volunteer, item_id=item.pk)
    client.force_login(secretary)
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-user="{volunteer.pk}"' in html
    assert f'data-user="{outsider_volunteer.pk}"' not in html  # another branch's volunteer
    assert "Haircut" in html


def test_staff_see_every_branch_below_them(client, staff, volunteer, outsider_volunteer):
    client.force_login(staff)
    html = client.get(PAGE).content.decode()
    assert f'data-user="{volunteer.pk}"' in html and f'data-user="{outsider_volunteer.pk}"' in html


@pytest.mark.parametrize("who", ["resident", "volunteer", "outsider"])
def test_people_without_a_desk_do_not_get_the_page(client, request, who, earned):
    client.force_login(request.getfixturevalue(who))
    page = client.get(PAGE)
    assert page.status_code == 404
    assert "Using the URLconf" not in page.content.decode()


def test_a_correction_is_a_new_ledger_entry_with_its_reason(client, secretary, volunteer, earned):
    client.force_login(secretary)
    before = list(Entry.objects.values_list("id", "amount"))
    answer = client.post(
        PAGE, {"user": volunteer.pk, "order": earned.pk, "amount": "-0.5", "reason": "Left half an hour early"}
    )
    assert answer.status_code == 302
    after = Entry.objects.order_by("id").last()
    assert (after.kind, after.amount, after.reason, after.actor) == (
        "adjustment",
        Decimal("-0.50"),
        "Left half an hour early",
        secretary,
    )
    assert list(Entry.objects.filter(id__in=[i for i, _ in before]).values_list("id", "amount")) == before
    page = client.get(answer["Location"]).content.decode()
    assert "Left half an hour early" in page


def test_a_secretary_cannot_correct_another_branchs_order(
    client, other_secretary, volunteer, earned, outsider_volunteer
):
    client.force_login(other_secretary)
    count = Entry.objects.count()
    page = client.post(PAGE, {"user": outsider_volunteer.pk, "order": earned.pk, "amount": "1", "reason": "Extra"})
    assert page.status_code == 200  # the form again, with the reason it was refused
    assert Entry.objects.count() == count
    assert page.context["form"].errors


def test_a_correction_without_a_reason_or_beyond_24_hours_is_refused(client, secretary, volunteer, earned):
    client.force_login(secretary)
    count = Entry.objects.count()
    page = client.post(PAGE, {"user": volunteer.pk, "order": earned.pk, "amount": "30", "reason": ""})
    errors = page.context["form"].errors
    assert "amount" in errors and "reason" in errors
    assert Entry.objects.count() == count
