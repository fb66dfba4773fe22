"""Properties of the batch assignment (matching.batch): capacity holds, the total is never
below greedy's, and on small cases it equals the best total found by brute force."""

from __future__ import annotations

from collections import Counter
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.batch import greedy, propose, total


@st.composite
def batches(draw, max_orders: int = 10, max_volunteers: int = 8):
    orders = list(range(1, draw(st.integers(1, max_orders)) + 1))
    volunteers = list(range(100, 100 + draw(st.integers(1, max_volunteers))))
    free = {v: draw(st.integers(0, 3)) for v in volunteers}
    scores = {}
    for o, v in product(orders, volunteers):
        if draw(st.booleans()):
            # Coarse values make ties common: tie-breaking must not cost score.
            scores[(o, v)] = draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])) + draw(st.floats(0, 0.001))
    return orders, free, scores


def check_feasible(assignments, orders, free, scores):
    assert len({a.order_id for a in assignments}) == len(assignments)
    assert all(a.order_id in orders and (a.order_id, a.volunteer_id) in scores for a in assignments)
    for v, n in Counter(a.volunteer_id for a in assignments).items():
        assert n <= free[v], (v, n, free[v])
    assert all(a.score == scores[(a.order_id, a.volunteer_id)] for a in assignments)


@settings(max_examples=300, deadline=None)
@given(batches())
def test_batch_never_exceeds_a_capacity_and_never_scores_below_greedy(case):
    orders, free, scores = case
    chosen = propose(order_ids=orders, free=free, scores=scores)
    check_feasible(chosen, orders, free, scores)
    baseline = greedy(order_ids=orders, free=free, scores=scores)
    check_feasible(baseline, orders, free, scores)
    assert total(chosen) >= total(baseline) - 1e-9


def best_total(orders, free, scores) -> float:
    """Exhaustive search: every order either unassigned or given to one volunteer with room."""
    best = 0.0

    def walk(i: int, left: dict[int, int], acc: float) -> None:
        nonlocal best
        if i == len(orders):
            best = max(best, acc)
            return
        walk(i + 1, left, acc)
        for (o, v), s in scores.items():
            if o == orders[i] and left.get(v, 0) > 0:
                left[v] -= 1
                walk(i + 1, left, acc + s)
                left[v] += 1

    walk(0, dict(free), 0.0)
    return best


@settings(max_examples=150, deadline=None)
@given(batches(max_orders=5, max_volunteers=4))
def test_batch_finds_the_best_total_on_small_cases(case):
    orders, free, scores = case
    assert abs(total(propose(order_ids=orders, free=free, scores=scores)) - best_total(orders, free, scores)) < 1e-9


def test_greedy_is_beaten_where_it_should_be():
    # Greedy gives A the 10, leaving B nothing; the best total shares the volunteers out.
    scores = {(1, 100): 10.0, (1, 101): 9.0, (2, 100): 8.0}
    free = {100: 1, 101: 1}
    assert total(greedy(order_ids=[1, 2], free=free, scores=scores)) == 10.0
    chosen = propose(order_ids=[1, 2], free=free, scores=scores)
    assert {(a.order_id, a.volunteer_id) for a in chosen} == {(1, 101), (2, 100)}
    assert total(chosen) == 17.0


def test_a_volunteer_with_room_for_two_takes_two():
    scores = {(1, 100): 5.0, (2, 100): 5.0, (1, 101): 1.0, (2, 101): 1.0}
    chosen = propose(order_ids=[1, 2], free={100: 2, 101: 1}, scores=scores)
    assert [(a.order_id, a.volunteer_id) for a in chosen] == [(1, 100), (2, 100)]
