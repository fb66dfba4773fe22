"""A volunteer's record (orders held, finished, offers dropped, ratings) is kept by the order
lifecycle in the same transaction as each change, so the matcher reads one row per candidate.
Each test counts what a secretary would count by hand and checks the stored record against it
and against a recount from the orders, offers and ratings."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from orders import services
from orders.errors import CapacityReached
from orders.models import Offer, Order, Rating
from orders.records import volunteer_records_recount
from orders.states import HELD
from tests.factories import OrderFactory
from volunteers.models import Volunteer, VolunteerRecord

FIELDS = ("held", "finished", "dropped", "rating_count", "rating_sum")


def stored(user) -> tuple[int, ...]:
    row = VolunteerRecord.objects.filter(volunteer__user=user).values_list(*FIELDS).first()
    return row or (0, 0, 0, 0, 0)


def counted(user) -> tuple[int, ...]:
    """The record worked out from the history itself, independently of the service."""
    v = Volunteer.objects.get(user=user)
    ratings = list(Rating.objects.filter(volunteer=v).values_list("rating", flat=True))
    return (
        Order.objects.filter(volunteer=v, status__in=[s.value for s in HELD]).count(),
        Order.objects.filter(volunteer=v, status__in=["completed", "closed"]).count(),
        Offer.objects.filter(volunteer=v, status__in=["declined", "expired"]).count(),
        len(ratings),
        sum(ratings),
    )


@pytest.mark.django_db
def test_each_step_of_an_order_moves_the_record(submit, advance, volunteer, resident, secretary):
    order = advance(submit(), "claimed")
    assert stored(volunteer) == counted(volunteer) == (1, 0, 0, 0, 0)
    services.order_start(order_id=order.pk, user=volunteer)
    assert stored(volunteer) == (1, 0, 0, 0, 0)
    services.order_complete(order_id=order.pk, user=volunteer, note="Done", hours=1)
    assert stored(volunteer) == counted(volunteer) == (0, 1, 0, 0, 0)
    services.order_confirm(order_id=order.pk, user=resident, rating=4, comment="Kind")
    assert stored(volunteer) == counted(volunteer) == (0, 1, 0, 1, 4)
    services.order_reopen(order_id=order.pk, user=resident, reason="The tap drips again")
    # Not finished after all; the rating given stays on the record, as it stays on the order.
    assert stored(volunteer) == counted(volunteer) == (0, 0, 0, 1, 4)


@pytest.mark.django_db
def test_declining_and_releasing_count_as_dropped_offers(submit, advance, volunteer, volunteer2, secretary):
    declined = advance(submit(), "dispatched")  # a direct offer to `volunteer`
    services.order_decline(order_id=declined.pk, user=volunteer, reason="Too far today")
    assert stored(volunteer) == counted(volunteer) == (0, 0, 1, 0, 0)

    released = advance(submit(), "accepted")
    services.order_dispatch(order_id=released.pk, user=secretary, mode="direct", volunteer=volunteer2.volunteer.pk)
    services.order_claim(order_id=released.pk, user=volunteer2)
    assert stored(volunteer2) == (1, 0, 0, 0, 0)
    services.order_release(order_id=released.pk, user=volunteer2, reason="Called away")
    assert stored(volunteer2) == counted(volunteer2) == (0, 0, 1, 0, 0)


@pytest.mark.django_db
def test_a_refused_claim_leaves_the_record_as_it_was(submit, advance, volunteer, secretary):
    """Capacity reached: the claim is undone, and so is its count."""
    Volunteer.objects.filter(user=volunteer).update(capacity=2)
    advance(submit(), "claimed")
    second = advance(submit(), "accepted")
    services.order_dispatch(order_id=second.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    Volunteer.objects.filter(user=volunteer).update(capacity=1)  # the desk lowered it meanwhile
    with pytest.raises(CapacityReached):
        services.order_claim(order_id=second.pk, user=volunteer)
    assert stored(volunteer) == counted(volunteer) == (1, 0, 0, 0, 0)


@pytest.mark.django_db
def test_imported_history_is_recounted_on_the_first_change(submit, advance, volunteer, resident):
    """Orders that reached the database without the lifecycle (an import, a factory) have no
    record yet; the first lifecycle change recounts it, history included."""
    v = volunteer.volunteer
    for stars in (5, 2):
        done = OrderFactory(resident=resident, volunteer=v, status="closed")
        Rating.objects.create(order=done, volunteer=v, rating=stars)
    assert not VolunteerRecord.objects.filter(volunteer=v).exists()
    advance(submit(), "claimed")
    assert stored(volunteer) == counted(volunteer) == (1, 2, 0, 2, 7)


@pytest.mark.django_db
def test_the_recount_command_repairs_a_record_that_drifted(submit, advance, volunteer, volunteer2):
    advance(submit(), "claimed")
    VolunteerRecord.objects.filter(volunteer__user=volunteer).update(held=7, dropped=3)
    out = StringIO()
    call_command("rebuild_volunteer_records", stdout=out)
    assert "Recounted 2 volunteer records." in out.getvalue()  # every volunteer, with or without history
    assert stored(volunteer) == counted(volunteer) == (1, 0, 0, 0, 0)
    assert VolunteerRecord.objects.filter(volunteer__user=volunteer2).exists()


@pytest.mark.django_db
def test_rebuild_of_some_volunteers_leaves_the_others_alone(submit, advance, volunteer, volunteer2):
    advance(submit(), "claimed")
    VolunteerRecord.objects.filter(volunteer__user=volunteer).update(held=7)
    assert volunteer_records_recount(volunteer_ids=[volunteer2.volunteer.pk]) == 1
    assert stored(volunteer) == (7, 0, 0, 0, 0)
    assert volunteer_records_recount(volunteer_ids=[volunteer.volunteer.pk]) == 1
    assert stored(volunteer) == counted(volunteer) == (1, 0, 0, 0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_completions_at_once_by_one_volunteer_all_count(world, submit, secretary, volunteer, resident):
    """Eight orders completed at the same instant from eight connections, for a volunteer whose
    record row does not exist yet (the recount path races too): every one counts once."""
    n = 8
    Volunteer.objects.filter(user=volunteer).update(capacity=n)
    orders = []
    for _ in range(n):
        order = services.order_accept(order_id=submit().pk, user=secretary)
        services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
        services.order_claim(order_id=order.pk, user=volunteer)
        services.order_start(order_id=order.pk, user=volunteer)
        orders.append(order.pk)
    VolunteerRecord.objects.filter(volunteer__user=volunteer).delete()
    barrier = threading.Barrier(n)

    def complete(order_id: int) -> None:
        try:
            barrier.wait(timeout=30)
            services.order_complete(order_id=order_id, user=volunteer, note="Done", hours=1)
        finally:
            connection.close()

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(complete, orders))
    assert stored(volunteer) == counted(volunteer) == (0, n, 0, 0, 0)
