"""The vectorised scorer (matching.vectorized) is the pure ranking over arrays: on generated
orders and volunteers, a pair is eligible there exactly when `ranking.rank` returns it, with
the same score."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.geo import distance_m
from matching import vectorized
from matching.ranking import OrderFacts, Weights, rank
from tests.matching.test_ranking_properties import NOW, ORDER_LAT, ORDER_LNG, QUARTER, candidates

# Sines and cosines from numpy may differ from the C library's in the last bit: a distance
# then moves by nanometres, which can change a six-decimal rounding by one step, or decide
# "within the radius" differently for a volunteer exactly on its edge.
ONE_STEP = 1.0000001e-6
EDGE_M = 1e-6

weights = st.builds(
    Weights,
    skill=st.floats(0, 5),
    distance=st.floats(0, 5),
    load=st.floats(0, 5),
    fairness=st.floats(0, 5),
    reliability=st.floats(0, 5),
    rating=st.floats(0, 5),
)


@st.composite
def orders(draw, order_id: int):
    window = draw(st.booleans())
    start = NOW + QUARTER * draw(st.integers(0, 7 * 96))
    return OrderFacts(
        order_id=order_id,
        lat=ORDER_LAT + draw(st.floats(-0.03, 0.03)),
        lng=ORDER_LNG + draw(st.floats(-0.03, 0.03)),
        requester_user_id=draw(st.integers(1, 12)),
        skills=frozenset(draw(st.sets(st.integers(1, 4), max_size=3))),
        declined=frozenset(draw(st.sets(st.integers(1, 10_000), max_size=3))),
        now=draw(st.sampled_from([None, NOW])),
        window_start=start if window else None,
        window_end=start + timedelta(minutes=draw(st.integers(15, 600))) if window else None,
    )


@st.composite
def batches(draw):
    n = draw(st.integers(1, 6))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=0, max_size=14, unique=True))
    pool = [draw(candidates(vid)) for vid in ids]
    facts = [draw(orders(i + 1)) for i in range(n)]
    per_order = [draw(weights) for _ in facts]
    return facts, pool, per_order


@settings(max_examples=300, deadline=None)
@given(batches())
def test_every_pair_scores_as_the_pure_ranking_scores_it(batch):
    facts, pool, per_order = batch
    matrix = vectorized.scores(facts, pool, per_order)
    assert matrix.shape == (len(facts), len(pool))
    for i, order in enumerate(facts):
        # The retrieval gives each candidate its distance to the order it was found for.
        measured = [replace(c, distance_m=distance_m(order.lat, order.lng, c.lat, c.lng)) for c in pool]
        pure = {r.volunteer_id: r.score for r in rank(order, measured, weights=per_order[i])}
        for j, c in enumerate(pool):
            on_edge = abs(distance_m(order.lat, order.lng, c.lat, c.lng) - c.radius_m) < EDGE_M
            fast = matrix[i, j]
            if c.volunteer_id in pure:
                assert fast != float("-inf") or on_edge, (order, c)
                if fast != float("-inf"):
                    assert abs(fast - pure[c.volunteer_id]) <= ONE_STEP, (order, c, fast, pure[c.volunteer_id])
            else:
                assert fast == float("-inf") or on_edge, (order, c, fast)


@settings(max_examples=100, deadline=None)
@given(batches())
def test_one_weights_for_all_is_the_same_as_one_per_order(batch):
    facts, pool, per_order = batch
    shared = per_order[0]
    assert (vectorized.scores(facts, pool, shared) == vectorized.scores(facts, pool, [shared] * len(facts))).all()
