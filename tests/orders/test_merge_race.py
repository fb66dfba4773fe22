"""Merges racing on PostgreSQL: threads with their own connections released together by a
barrier, calling `order_merge` as the API and the pages do.

- Two desks merge the same duplicate into the same order at once: one wins, the other is
  told `invalid_transition`; one merge step on each timeline, one follower row.
- Two desks merge a pair each into the other at once (A into B, B into A): exactly one wins,
  so the pair never ends with both closed as duplicates of each other.
- A merge racing a cancel of its survivor: either the merge wins (then the cancel closes the
  survivor, which the follower hears of) or the cancel wins and the merge is refused; the
  duplicate is never merged into a closed order.
Each is repeated over several pairs, so the interleavings vary.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from orders import services
from orders.errors import OrderError
from orders.models import Category, Order, OrderEvent, OrderFollower
from tests.factories import BASE_LAT, BASE_LNG, ResidentProfileFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PAIRS = 10


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except OrderError as exc:
        return exc.code
    finally:
        connection.close()
    return "ok"


def _at_once(*calls: Callable[[], Any]) -> list[str]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> str:
        barrier.wait(timeout=30)
        return _outcome(call)

    with ThreadPoolExecutor(len(calls)) as pool:
        return [f.result(timeout=60) for f in [pool.submit(run, c) for c in calls]]


@pytest.fixture
def desk(world, settings):
    Category.objects.get_or_create(code="repair", defaults={"name": "Repair"})
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    first, second = UserFactory(username="merge-desk-1"), UserFactory(username="merge-desk-2")
    world.north_branch.secretaries.add(first, second)
    residents = [ResidentProfileFactory(user__username=f"merge-resident-{i}", grid=world.north).user for i in range(2)]
    return first, second, residents


def _pair(residents) -> tuple[int, int]:
    ids = []
    for resident in residents:
        order, _ = services.order_submit(
            resident=resident,
            data=services.OrderInput(category="repair", description="水龙头漏水", lat=BASE_LAT, lng=BASE_LNG),
        )
        ids.append(order.pk)
    return ids[0], ids[1]


def test_two_merges_of_the_same_pair_one_wins(desk):
    first, second, residents = desk
    for _ in range(PAIRS):
        survivor, duplicate = _pair(residents)
        outcomes = _at_once(
            lambda d=duplicate, s=survivor: services.order_merge(order_id=d, user=first, into=s),
            lambda d=duplicate, s=survivor: services.order_merge(order_id=d, user=second, into=s),
        )
        assert Counter(outcomes) == Counter({"ok": 1, "invalid_transition": 1}), outcomes
        assert Order.objects.get(pk=duplicate).status == "merged"
        assert OrderEvent.objects.filter(order=duplicate, action="merge").count() == 1
        assert OrderEvent.objects.filter(order=survivor, action="merge_in").count() == 1
        assert OrderFollower.objects.filter(order=survivor).count() == 1


def test_crossed_merges_one_wins(desk):
    first, second, residents = desk
    for _ in range(PAIRS):
        a, b = _pair(residents)
        outcomes = _at_once(
            lambda a=a, b=b: services.order_merge(order_id=a, user=first, into=b),
            lambda a=a, b=b: services.order_merge(order_id=b, user=second, into=a),
        )
        assert Counter(outcomes) == Counter({"ok": 1, "invalid": 1}), outcomes
        statuses = sorted(Order.objects.filter(pk__in=[a, b]).values_list("status", flat=True))
        assert statuses == ["merged", "submitted"]
        merged = Order.objects.get(pk__in=[a, b], status="merged")
        assert merged.merged_into_id in {a, b} - {merged.pk}


def test_a_merge_racing_a_cancel_of_its_survivor(desk):
    first, second, residents = desk
    for _ in range(PAIRS):
        survivor, duplicate = _pair(residents)
        outcomes = _at_once(
            lambda d=duplicate, s=survivor: services.order_merge(order_id=d, user=first, into=s),
            lambda s=survivor: services.order_cancel(order_id=s, user=second, reason="Sorted out"),
        )
        merge, cancel = outcomes
        assert cancel == "ok"
        assert merge in {"ok", "invalid"}, outcomes
        duplicate_row = Order.objects.get(pk=duplicate)
        if merge == "ok":
            # Merged first: the duplicate's resident followed the survivor and heard it close.
            assert duplicate_row.status == "merged"
            assert OrderFollower.objects.filter(order=survivor, user=residents[1]).exists()
        else:
            assert duplicate_row.status == "submitted" and duplicate_row.merged_into_id is None
