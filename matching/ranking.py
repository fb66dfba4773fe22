"""The ranking core: which volunteers may take an order, and in which order to offer it.

Pure Python that imports nothing of the project and no Django (the import contract keeps it
so): frozen dataclasses in, ranked rows out, so the rules can be read, property-tested and
benchmarked on their own. The database side (`matching.candidates`) fetches the facts a
`Candidate` carries, the distance to the order included (measured by `core.geo.distance_m`,
the one definition of a distance).

Hard filters (a volunteer failing one is never returned): on duty or available in the
order's window, within their own service radius, below capacity, has not declined (or let
lapse) this order, is not the requester, inside the scope policy (a member of a branch in
the order's street). Scope is also a priority: members of the order's own branch come
first, then of its community, then of its street.

Score: the weighted sum of six components, each in [0, 1]; each row's `reasons` lists
every component's contribution (weight × value) so a secretary can see why.
Ties are broken by tier, then distance, then volunteer id: the same input always gives
the same ranking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

# Distance component = 1 / (1 + d / DISTANCE_SCALE_M): 1.0 on the spot, 0.5 at 1 km.
DISTANCE_SCALE_M = 1_000.0
# A volunteer's rating before they have any: a good but not perfect 4 out of 5, worth two
# ratings, so that one early 5★ does not outrank a long good record.
RATING_PRIOR_MEAN = 4.0
RATING_PRIOR_WEIGHT = 2.0

# Scope tiers, best first. `None` = outside the order's street: filtered out.
TIER_BRANCH, TIER_COMMUNITY, TIER_STREET = 0, 1, 2
TIER_NAMES = {TIER_BRANCH: "branch", TIER_COMMUNITY: "community", TIER_STREET: "street"}

COMPONENTS = ("skill", "distance", "load", "fairness", "reliability", "rating")


@dataclass(frozen=True)
class Weights:
    """How much each component counts. Defaults here; a branch overrides any of them in
    `Branch.matching_weights` (e.g. {"distance": 2.0})."""

    skill: float = 2.0
    distance: float = 3.0
    load: float = 1.0
    fairness: float = 1.0
    reliability: float = 1.0
    rating: float = 1.0

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, object] | None) -> Weights:
        """Defaults with a branch's overrides applied. Unknown keys, non-numbers and values
        outside [0, 100] are ignored: a typo in admin must not break dispatch."""
        base = cls()
        if not overrides:
            return base
        changes: dict[str, float] = {}
        for f in fields(cls):
            value = overrides.get(f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if math.isfinite(value) and 0 <= value <= 100:
                changes[f.name] = float(value)
        return replace(base, **changes)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Slot:
    """A weekly availability slot: weekday 0 = Monday, minutes since local midnight."""

    weekday: int
    start_min: int
    end_min: int


@dataclass(frozen=True)
class OrderFacts:
    """What the ranking needs to know about the order. Times are naive local wall-clock
    times (the caller converts), so weekly slots compare without a time-zone library."""

    order_id: int
    lat: float
    lng: float
    requester_user_id: int
    skills: frozenset[int] = frozenset()
    declined: frozenset[int] = frozenset()
    now: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None


@dataclass(frozen=True, slots=True)  # slots: built twenty times per ranking, a third faster
class Candidate:
    """One volunteer as the database saw them for one order, with the aggregates of their record.

    `lat`/`lng` are the location the matcher should use: the fresh live one when there is
    one, else the base location (the retrieval decides); `distance_m` is how far that is
    from the order, as the retrieval measured it."""

    volunteer_id: int
    user_id: int
    lat: float
    lng: float
    radius_m: float
    capacity: int
    held: int = 0
    on_duty: bool = True
    live: bool = False
    availability: tuple[Slot, ...] = ()
    skills: frozenset[int] = frozenset()
    tier: int | None = TIER_BRANCH
    recent_orders: int = 0
    finished: int = 0
    dropped: int = 0
    rating_count: int = 0
    rating_sum: float = 0.0
    distance_m: float = field(kw_only=True)


@dataclass(frozen=True)
class Ranked:
    volunteer_id: int
    score: float
    distance_m: float
    tier: int
    reasons: dict[str, float] = field(default_factory=dict)
    details: dict[str, float | int | str | None] = field(default_factory=dict)


# --- hard filters --------------------------------------------------------------------------


def available_in(slots: Iterable[Slot], start: datetime, end: datetime | None = None) -> bool:
    """Does any weekly slot overlap [start, end)? Without an end, is `start` inside a slot."""
    slots = tuple(slots)
    if not slots:
        return False
    if end is None or end <= start:
        minute = start.hour * 60 + start.minute
        return any(s.weekday == start.weekday() and s.start_min <= minute < s.end_min for s in slots)
    day0 = datetime(start.year, start.month, start.day)  # noqa: DTZ001 - naive local wall-clock by contract
    # A window longer than a week overlaps every slot: look at eight days at most.
    for offset in range(min(8, (end - day0).days + 1)):
        day = day0 + timedelta(days=offset)
        for s in slots:
            if s.weekday != day.weekday():
                continue
            slot_start = day + timedelta(minutes=s.start_min)
            slot_end = day + timedelta(minutes=s.end_min)
            if slot_start < end and start < slot_end:
                return True
    return False


def violations(order: OrderFacts, c: Candidate) -> list[str]:
    """The hard filters this candidate fails (empty = eligible), by name."""
    failed = []
    if c.user_id == order.requester_user_id:
        failed.append("requester")
    if c.volunteer_id in order.declined:
        failed.append("declined")
    if c.tier not in TIER_NAMES:
        failed.append("scope")
    if not c.on_duty and not (
        order.now is not None and available_in(c.availability, order.window_start or order.now, order.window_end)
    ):
        failed.append("unavailable")
    if c.held >= c.capacity:
        failed.append("capacity")
    if c.distance_m > c.radius_m:
        failed.append("range")
    return failed


# --- score ---------------------------------------------------------------------------------


def components(order: OrderFacts, c: Candidate, distance: float) -> dict[str, float]:
    """Each component's value in [0, 1], higher is better."""
    skill = 1.0 if not order.skills else len(order.skills & c.skills) / len(order.skills)
    load = 1.0 - min(c.held, c.capacity) / c.capacity if c.capacity > 0 else 0.0
    # Fewer orders lately = a fairer pick: spreads the work instead of feeding the keenest.
    fairness = 1.0 / (1.0 + c.recent_orders)
    # Completion ratio with one free success, so a newcomer is not ranked as unreliable.
    reliability = (c.finished + 1.0) / (c.finished + c.dropped + 1.0)
    mean = (c.rating_sum + RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT) / (c.rating_count + RATING_PRIOR_WEIGHT)
    rating = min(1.0, max(0.0, (mean - 1.0) / 4.0))
    return {
        "skill": skill,
        "distance": 1.0 / (1.0 + distance / DISTANCE_SCALE_M),
        "load": load,
        "fairness": fairness,
        "reliability": reliability,
        "rating": rating,
    }


def _micro(x: float) -> float:
    """x ≥ 0 to six decimals, half up: the same on every IEEE-754 platform, and a quarter of
    the cost of round(x, 6) (50 against 200 ns), which the matcher's hot loop calls seven times per candidate."""
    return math.floor(x * 1e6 + 0.5) / 1e6


def contributions(order: OrderFacts, c: Candidate, weights: Weights, distance: float) -> tuple[float, ...]:
    """Each component's weighted contribution, in COMPONENTS order, rounded so that the
    score is exactly their sum whatever the platform. (The hot loop of the matcher: the
    values of `components`, without the dict.)"""
    skill = 1.0 if not order.skills else len(order.skills & c.skills) / len(order.skills)
    load = 1.0 - min(c.held, c.capacity) / c.capacity if c.capacity > 0 else 0.0
    mean = (c.rating_sum + RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT) / (c.rating_count + RATING_PRIOR_WEIGHT)
    return (
        _micro(weights.skill * skill),
        _micro(weights.distance / (1.0 + distance / DISTANCE_SCALE_M)),
        _micro(weights.load * load),
        _micro(weights.fairness / (1.0 + c.recent_orders)),
        _micro(weights.reliability * (c.finished + 1.0) / (c.finished + c.dropped + 1.0)),
        _micro(weights.rating * min(1.0, max(0.0, (mean - 1.0) / 4.0))),
    )


def _row(order: OrderFacts, c: Candidate, d: float, parts: tuple[float, ...], total: float) -> Ranked:
    mean = (c.rating_sum / c.rating_count) if c.rating_count else None
    details: dict[str, float | int | str | None] = {
        "scope": TIER_NAMES.get(c.tier if c.tier is not None else -1, "outside"),
        "distance_m": round(d),
        "location": "live" if c.live else "base",
        "skills_matched": len(order.skills & c.skills),
        "skills_needed": len(order.skills),
        "held": c.held,
        "capacity": c.capacity,
        "recent_orders": c.recent_orders,
        "finished": c.finished,
        "dropped": c.dropped,
        "rating": round(mean, 2) if mean is not None else None,
        "ratings": c.rating_count,
    }
    return Ranked(
        volunteer_id=c.volunteer_id,
        score=total,
        distance_m=d,
        tier=c.tier if c.tier is not None else TIER_STREET,
        reasons=dict(zip(COMPONENTS, parts, strict=True)),
        details=details,
    )


def score(order: OrderFacts, c: Candidate, weights: Weights) -> Ranked:
    """Score one (eligible) candidate; `reasons` = each component's weighted contribution."""
    d = c.distance_m
    parts = contributions(order, c, weights, d)
    return _row(order, c, d, parts, _micro(sum(parts)))


def sort_key(r: Ranked) -> tuple[int, float, float, int]:
    """Scope tier first (own branch before community before street), then score, then the
    nearer, then the lower id: total and deterministic."""
    return (r.tier, -r.score, r.distance_m, r.volunteer_id)


def rank(
    order: OrderFacts, candidates: Sequence[Candidate], *, weights: Weights | None = None, limit: int | None = None
) -> list[Ranked]:
    """Eligible candidates, best first, at most `limit`. A volunteer listed twice counts once.
    Reasons and details are written out only for the rows returned."""
    weights = weights or Weights()
    seen: set[int] = set()
    rows = []
    for c in candidates:
        if c.volunteer_id in seen:
            continue
        seen.add(c.volunteer_id)
        d = c.distance_m
        if violations(order, c):
            continue
        parts = contributions(order, c, weights, d)
        total = _micro(sum(parts))
        rows.append((c.tier if c.tier is not None else TIER_STREET, -total, d, c.volunteer_id, c, parts))
    rows.sort(key=lambda row: row[:4])
    if limit is not None:
        rows = rows[: max(0, limit)]
    return [_row(order, c, d, parts, -neg) for _tier, neg, d, _vid, c, parts in rows]
