"""The ranking's score for many orders × many volunteers at once, with numpy.

The same formula as `matching.ranking` (hard filters, six weighted components each rounded to
six decimals, the score their rounded sum), written over arrays: batch dispatch scores 200
orders against 2,000 volunteers, 400,000 pairs, which pair by pair in Python took seconds.
`tests/matching/test_vectorized_properties.py` checks, on generated orders and volunteers,
that every pair is eligible here exactly when `ranking.rank` returns it and that the scores
are the same.

Operations are the ranking's, in its order (IEEE-754 gives the same double for the same
operation), so sums are written out term by term rather than with `np.sum` (pairwise).
Only the distance is computed here, for every pair (the pure ranking takes each candidate's
distance to its own order from the retrieval, `core.geo.distance_m`): it may differ by
nanometres, which can move a six-decimal rounding by one step or decide "within the radius"
differently for a volunteer exactly on its edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.geo import EARTH_RADIUS_M
from matching.ranking import (
    DISTANCE_SCALE_M,
    RATING_PRIOR_MEAN,
    RATING_PRIOR_WEIGHT,
    TIER_NAMES,
    Candidate,
    OrderFacts,
    Weights,
    available_in,
)


def _micro(x: np.ndarray) -> np.ndarray:
    """`ranking._micro` over an array: six decimals, half up (in place: `x` is a temporary)."""
    x *= 1e6
    x += 0.5
    np.floor(x, out=x)
    x /= 1e6
    return x


def distances(orders: Sequence[OrderFacts], candidates: Sequence[Candidate]) -> np.ndarray:
    """Great-circle distance in metres for every (order, candidate): `core.geo.distance_m`'s
    haversine, with the sines of the half differences from each side's own sines and cosines
    (sin(b − a) = sin b cos a − cos b sin a): trigonometry on 2,200 values instead of 800,000
    for a batch of 200 × 2,000. The result differs from the pairwise formula by rounding only
    (nanometres), which the property test allows."""
    half_lat1 = np.radians(np.array([o.lat for o in orders], dtype=np.float64)) / 2
    half_lng1 = np.radians(np.array([o.lng for o in orders], dtype=np.float64)) / 2
    half_lat2 = np.radians(np.array([c.lat for c in candidates], dtype=np.float64)) / 2
    half_lng2 = np.radians(np.array([c.lng for c in candidates], dtype=np.float64)) / 2
    s1, c1 = np.sin(half_lat1)[:, None], np.cos(half_lat1)[:, None]
    s2, c2 = np.sin(half_lat2)[None, :], np.cos(half_lat2)[None, :]
    sin_dp = s2 * c1 - c2 * s1  # sin((lat2 − lat1) / 2)
    sl1, cl1 = np.sin(half_lng1)[:, None], np.cos(half_lng1)[:, None]
    sl2, cl2 = np.sin(half_lng2)[None, :], np.cos(half_lng2)[None, :]
    sin_dl = sl2 * cl1 - cl2 * sl1  # sin((lng2 − lng1) / 2)
    cos_lat1 = np.cos(2 * half_lat1)[:, None]
    cos_lat2 = np.cos(2 * half_lat2)[None, :]
    a = sin_dp * sin_dp
    a += (cos_lat1 * cos_lat2) * (sin_dl * sin_dl)
    np.sqrt(a, out=a)
    np.minimum(a, 1.0, out=a)
    np.arcsin(a, out=a)
    a *= 2 * EARTH_RADIUS_M
    return a


def eligible(orders: Sequence[OrderFacts], candidates: Sequence[Candidate], distance: np.ndarray) -> np.ndarray:
    """True where `ranking.violations` finds nothing."""
    n, m = len(orders), len(candidates)
    ok = np.ones((n, m), dtype=bool)
    user = np.array([c.user_id for c in candidates], dtype=np.int64)
    vid = np.array([c.volunteer_id for c in candidates], dtype=np.int64)
    ok &= user[None, :] != np.array([o.requester_user_id for o in orders], dtype=np.int64)[:, None]
    for i, o in enumerate(orders):
        if o.declined:
            ok[i] &= ~np.isin(vid, list(o.declined))
    ok &= np.array([c.tier in TIER_NAMES for c in candidates], dtype=bool)[None, :]
    ok &= np.array([c.held < c.capacity for c in candidates], dtype=bool)[None, :]
    ok &= distance <= np.array([c.radius_m for c in candidates], dtype=np.float64)[None, :]
    # Off duty: only if a weekly slot covers the order's window. Few volunteers, few distinct
    # windows in a batch: the pure test once per (volunteer, window).
    off = [j for j, c in enumerate(candidates) if not c.on_duty]
    if off:
        windows: dict[tuple, list[int]] = {}
        for i, o in enumerate(orders):
            key = (o.now, o.window_start, o.window_end)
            windows.setdefault(key, []).append(i)
        for (now, start, end), rows in windows.items():
            free = np.array(
                [now is not None and available_in(candidates[j].availability, start or now, end) for j in off],
                dtype=bool,
            )
            ok[np.ix_(rows, off)] &= free[None, :]
    return ok


def _skill_fraction(orders: Sequence[OrderFacts], candidates: Sequence[Candidate]) -> np.ndarray:
    """len(order.skills & c.skills) / len(order.skills), or 1.0 when the order needs none."""
    needed = sorted({s for o in orders for s in o.skills})
    if not needed:
        return np.ones((len(orders), len(candidates)))
    col = {s: k for k, s in enumerate(needed)}
    wants = np.zeros((len(orders), len(needed)))
    for i, o in enumerate(orders):
        for s in o.skills:
            wants[i, col[s]] = 1.0
    has = np.zeros((len(candidates), len(needed)))
    for j, c in enumerate(candidates):
        for s in c.skills:
            if s in col:
                has[j, col[s]] = 1.0
    matched = wants @ has.T  # exact small integers
    counts = wants.sum(axis=1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, matched / np.where(counts > 0, counts, 1.0), 1.0)


def scores(
    orders: Sequence[OrderFacts], candidates: Sequence[Candidate], weights: Sequence[Weights] | Weights | None = None
) -> np.ndarray:
    """The ranking's score of every (order, candidate), `-inf` where the pair is not eligible.
    `weights` is one per order (a branch's overrides) or one for all."""
    n, m = len(orders), len(candidates)
    if n == 0 or m == 0:
        return np.full((n, m), -np.inf)
    shared = weights is None or isinstance(weights, Weights)
    per_order = [weights or Weights()] * n if shared else list(weights)  # type: ignore[arg-type]

    def w(name: str) -> np.ndarray:
        return np.array([getattr(x, name) for x in per_order], dtype=np.float64)[:, None]

    def column(values: list[float]) -> np.ndarray:
        return np.array(values, dtype=np.float64)[None, :]

    d = distances(orders, candidates)
    ok = eligible(orders, candidates, d)
    held = column([min(c.held, c.capacity) for c in candidates])
    capacity = column([c.capacity for c in candidates])
    with np.errstate(invalid="ignore", divide="ignore"):
        load = np.where(capacity > 0, 1.0 - held / np.where(capacity > 0, capacity, 1.0), 0.0)
    recent = column([c.recent_orders for c in candidates])
    finished = column([c.finished for c in candidates])
    dropped = column([c.dropped for c in candidates])
    rating_sum = column([c.rating_sum for c in candidates])
    rating_count = column([c.rating_count for c in candidates])
    mean = (rating_sum + RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT) / (rating_count + RATING_PRIOR_WEIGHT)
    rating = np.minimum(1.0, np.maximum(0.0, (mean - 1.0) / 4.0))

    total = _micro(w("skill") * _skill_fraction(orders, candidates))
    total = total + _micro(w("distance") / (1.0 + d / DISTANCE_SCALE_M))
    total = total + _micro(w("load") * load)
    total = total + _micro(w("fairness") / (1.0 + recent))
    total = total + _micro(w("reliability") * (finished + 1.0) / (finished + dropped + 1.0))
    total = total + _micro(w("rating") * rating)
    return np.where(ok, _micro(total), -np.inf)
