"""Two desks confirm overlapping batches at the same instant, on PostgreSQL with a database
connection per thread: each shared order is dispatched exactly once, a batch that loses
any of its orders is rolled back whole (all or nothing), and two batches naming the same
orders in opposite order do not deadlock (pairs are dispatched in order-id order)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from orders import services
from orders.errors import OrderError
from orders.models import Category, Offer, Order
from orders.services import order_batch_dispatch
from tests.factories import BASE_LAT, BASE_LNG, UserFactory, VolunteerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def confirm(user, pairs, barrier: threading.Barrier) -> str:
    barrier.wait()
    try:
        order_batch_dispatch(user=user, assignments=pairs)
        return "ok"
    except OrderError as exc:
        return exc.code
    finally:
        connection.close()


def test_overlapping_batches_dispatch_each_order_once_and_losers_roll_back(world, secretary, staff, submit):
    # A transaction test flushes the tables afterwards, seeded categories included.
    Category.objects.get_or_create(code="errands", defaults={"name": "Errands"})
    v = [
        VolunteerFactory(
            user=UserFactory(username=f"batch-v{i}", password=None),
            branches=[world.north_branch],
            base_lat=BASE_LAT + 0.001 * i,
            base_lng=BASE_LNG,
            capacity=5,
        ).user.volunteer.pk
        for i in range(4)
    ]
    for _ in range(ROUNDS):
        first, second, mine, theirs = (services.order_accept(order_id=submit().pk, user=secretary).pk for _ in range(4))
        plans = {
            secretary: [(first, v[0]), (mine, v[1]), (second, v[1])],
            staff: [(second, v[2]), (theirs, v[2]), (first, v[3])],
        }
        barrier = threading.Barrier(len(plans))
        with ThreadPoolExecutor(len(plans)) as pool:
            futures = {user: pool.submit(confirm, user, pairs, barrier) for user, pairs in plans.items()}
            outcomes = {user: f.result(timeout=60) for user, f in futures.items()}

        assert list(outcomes.values()).count("ok") == 1, outcomes
        winner = next(u for u, o in outcomes.items() if o == "ok")
        loser = next(u for u in plans if u is not winner)
        for order_id, volunteer_id in plans[winner]:
            order = Order.objects.get(pk=order_id)
            assert (order.status, order.dispatch_mode) == ("dispatched", "batch")
            assert list(Offer.objects.filter(order=order).values_list("volunteer_id", flat=True)) == [volunteer_id]
        own = {mine, theirs} & {o for o, _ in plans[loser]}
        for order_id in own:  # the loser's order that nobody else named: rolled back with its batch
            assert Order.objects.get(pk=order_id).status == "accepted"
            assert not Offer.objects.filter(order_id=order_id).exists()
