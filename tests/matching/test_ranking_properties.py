"""Properties of the pure ranking (matching.ranking), checked against independent rules.

The checks here do not reuse the ranking's own helpers: distance comes from the `h3`
library's great-circle distance and availability from a 15-minute stepping walk.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import h3
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.geo import distance_m
from matching.ranking import Candidate, OrderFacts, Slot, Weights, rank

ORDER_LAT, ORDER_LNG = 31.23, 121.47
NOW = datetime(2026, 11, 26, 10, 0)  # noqa: DTZ001 - a Thursday, naive local time as the ranking expects
QUARTER = timedelta(minutes=15)

slots = st.builds(
    lambda day, start, length: Slot(day, start * 15, min(24 * 60, start * 15 + length * 15)),
    st.integers(0, 6),
    st.integers(0, 95),
    st.integers(1, 32),
)


@st.composite
def candidates(draw, volunteer_id: int):
    lat = ORDER_LAT + draw(st.floats(-0.06, 0.06))
    lng = ORDER_LNG + draw(st.floats(-0.06, 0.06))
    return Candidate(
        volunteer_id=volunteer_id,
        user_id=draw(st.integers(1, 12)),
        lat=lat,
        lng=lng,
        distance_m=distance_m(ORDER_LAT, ORDER_LNG, lat, lng),  # as the retrieval measures it
        radius_m=draw(st.floats(100, 10_000)),
        capacity=draw(st.integers(1, 4)),
        held=draw(st.integers(0, 5)),
        on_duty=draw(st.booleans()),
        live=draw(st.booleans()),
        availability=tuple(draw(st.lists(slots, max_size=3))),
        skills=frozenset(draw(st.sets(st.integers(1, 4), max_size=4))),
        tier=draw(st.sampled_from([0, 1, 2, None])),
        recent_orders=draw(st.integers(0, 20)),
        finished=draw(st.integers(0, 30)),
        dropped=draw(st.integers(0, 30)),
        rating_count=(n := draw(st.integers(0, 10))),
        rating_sum=float(sum(draw(st.lists(st.integers(1, 5), min_size=n, max_size=n)))),
    )


@st.composite
def worlds(draw):
    n = draw(st.integers(0, 12))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True))
    pool = [draw(candidates(vid)) for vid in ids]
    window = draw(st.booleans())
    start = NOW + QUARTER * draw(st.integers(0, 7 * 96))
    order = OrderFacts(
        order_id=1,
        lat=ORDER_LAT,
        lng=ORDER_LNG,
        requester_user_id=draw(st.integers(1, 12)),
        skills=frozenset(draw(st.sets(st.integers(1, 4), max_size=3))),
        declined=frozenset(draw(st.sets(st.sampled_from(ids), max_size=3)) if ids else ()),
        now=NOW,
        window_start=start if window else None,
        window_end=start + QUARTER * draw(st.integers(1, 48)) if window else None,
    )
    weights = Weights.with_overrides(
        draw(
            st.dictionaries(
                st.sampled_from(["skill", "distance", "load", "fairness", "reliability", "rating"]),
                st.floats(0, 10),
                max_size=3,
            )
        )
    )
    return order, pool, weights


def _available(c: Candidate, order: OrderFacts) -> bool:
    """Step through the window a quarter of an hour at a time (everything is on that grid)."""
    start = order.window_start or order.now
    end = order.window_end or start + timedelta(minutes=1)
    t = start
    while t < end:
        minute = t.hour * 60 + t.minute
        if any(s.weekday == t.weekday() and s.start_min <= minute < s.end_min for s in c.availability):
            return True
        t += QUARTER
    return False


def clearly(c: Candidate, order: OrderFacts) -> bool | None:
    """Eligible (True), not (False), or too close to the range edge to call (None): the two
    distance formulas differ by centimetres, which is not what this test is about."""
    d = h3.great_circle_distance((order.lat, order.lng), (c.lat, c.lng), unit="m")
    if abs(d - c.radius_m) < 1:
        return None
    return (
        c.user_id != order.requester_user_id
        and c.volunteer_id not in order.declined
        and c.tier is not None
        and c.held < c.capacity
        and (c.on_duty or _available(c, order))
        and d < c.radius_m
    )


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_no_returned_volunteer_fails_a_hard_filter_and_none_eligible_is_dropped(world):
    order, pool, weights = world
    returned = {r.volunteer_id for r in rank(order, pool, weights=weights)}
    for c in pool:
        verdict = clearly(c, order)
        if verdict is None:
            continue
        assert (c.volunteer_id in returned) == verdict, c


@settings(max_examples=150, deadline=None)
@given(worlds(), st.floats(0.0, 0.95), st.integers(1, 10_000))
def test_an_identical_but_closer_volunteer_never_ranks_lower(world, t, twin_user):
    order, pool, weights = world
    assume(pool)
    far = pool[0]
    far = replace(far, on_duty=True, held=0, tier=far.tier or 0, radius_m=50_000)
    assume(far.user_id != order.requester_user_id and far.volunteer_id not in order.declined)
    lat, lng = order.lat + t * (far.lat - order.lat), order.lng + t * (far.lng - order.lng)
    near = replace(
        far,
        volunteer_id=20_000,
        user_id=100 + twin_user,
        lat=lat,
        lng=lng,
        distance_m=distance_m(order.lat, order.lng, lat, lng),
    )
    d_far = h3.great_circle_distance((order.lat, order.lng), (far.lat, far.lng), unit="m")
    d_near = h3.great_circle_distance((order.lat, order.lng), (near.lat, near.lng), unit="m")
    assume(d_near < d_far - 0.01)
    ranked = [r.volunteer_id for r in rank(order, [far, *pool[1:], near], weights=weights)]
    assert ranked.index(near.volunteer_id) < ranked.index(far.volunteer_id)


@settings(max_examples=100, deadline=None)
@given(worlds(), st.randoms(use_true_random=False), st.integers(1, 30))
def test_the_same_input_gives_the_same_ranking_whatever_the_row_order(world, shuffler: random.Random, limit):
    order, pool, weights = world
    first = rank(order, pool, weights=weights, limit=limit)
    again = rank(order, list(pool), weights=weights, limit=limit)
    shuffled = list(pool)
    shuffler.shuffle(shuffled)
    assert first == again == rank(order, shuffled, weights=weights, limit=limit)
    assert len(first) <= limit


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_rows_are_best_first_within_each_scope_tier_and_reasons_add_up(world):
    order, pool, weights = world
    ranked = rank(order, pool, weights=weights)
    keys = [(r.tier, -r.score) for r in ranked]
    assert keys == sorted(keys)
    for r in ranked:
        assert abs(sum(r.reasons.values()) - r.score) < 1e-5
        assert set(r.reasons) == {"skill", "distance", "load", "fairness", "reliability", "rating"}


def test_branch_overrides_change_the_weights_and_nonsense_is_ignored():
    w = Weights.with_overrides({"distance": 0, "rating": 7.5, "bogus": 3, "load": "heavy", "skill": -1})
    assert (w.distance, w.rating, w.load, w.skill) == (0.0, 7.5, Weights().load, Weights().skill)


def test_distance_weight_zero_lets_a_better_record_win():
    order = OrderFacts(order_id=1, lat=ORDER_LAT, lng=ORDER_LNG, requester_user_id=999, now=NOW)
    near = Candidate(1, 1, ORDER_LAT + 0.001, ORDER_LNG, 5000, 2, rating_count=5, rating_sum=10, distance_m=111.2)
    far = Candidate(2, 2, ORDER_LAT + 0.02, ORDER_LNG, 5000, 2, rating_count=5, rating_sum=25, distance_m=2224.0)
    assert [r.volunteer_id for r in rank(order, [near, far])] == [1, 2]
    heavy = Weights.with_overrides({"distance": 0})
    ranked = rank(order, [near, far], weights=heavy)
    assert [r.volunteer_id for r in ranked] == [2, 1]
    assert ranked[0].reasons["distance"] == 0
