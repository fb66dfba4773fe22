"""Two workers at once, for real: threads with their own PostgreSQL connections."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from orders.models import Offer, OrderEvent
from timers.models import TimerStep
from timers.services import timers_tick
from volunteers.models import Volunteer


def run_workers(names: list[str], now, limit: int = 3) -> dict[str, Counter]:
    """Each worker ticks until it finds nothing more to do; all start together."""
    barrier = threading.Barrier(len(names))
    fired: dict[str, Counter] = {name: Counter() for name in names}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            for _ in range(100):
                result = timers_tick(now=now, worker=name, limit=limit, rounds=1)
                fired[name].update(result.fired)
                if result.total == 0:
                    break
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return fired


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_both_fire_a_step(submit, advance, volunteer, staff, at):
    Volunteer.objects.filter(user=volunteer).update(capacity=20)
    unreviewed = [submit() for _ in range(24)]
    completed = [advance(submit(), "completed") for _ in range(8)]
    # Ticking again afterwards must not find anything the two workers missed.
    fired = run_workers(["worker-a", "worker-b"], at(7 * 24 * 60 + 1))
    again = timers_tick(now=at(7 * 24 * 60 + 1), worker="worker-c")

    per_order = Counter(
        OrderEvent.objects.filter(action__in=["escalate", "confirm"], actor__isnull=True).values_list(
            "order_id", "action"
        )
    )
    assert {o.pk for o in unreviewed} == {oid for (oid, action) in per_order if action == "escalate"}
    assert {o.pk for o in completed} == {oid for (oid, action) in per_order if action == "confirm"}
    assert set(per_order.values()) == {1}, "a step fired twice"
    total = fired["worker-a"] + fired["worker-b"]
    assert total == Counter({"review_escalate": 24, "confirm_close": 8})
    assert again.total == 0
    assert TimerStep.objects.filter(state="done").count() == 32


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_release_a_stale_claim_and_widen_an_offer_once(
    submit, advance, volunteer, volunteer2, volunteer3, at
):
    claimed = advance(submit(), "claimed")
    offered = advance(submit(), "dispatched")  # also a direct offer to `volunteer`
    run_workers(["worker-a", "worker-b"], at(121), limit=1)
    actions = Counter(OrderEvent.objects.filter(order=claimed).values_list("action", flat=True))
    assert (actions["remind"], actions["release"]) == (1, 1)
    widened = OrderEvent.objects.filter(order=offered, action="widen")
    assert widened.count() == 1
    assert Offer.objects.filter(order=offered, status="open").count() == len(widened[0].data["offered"])
