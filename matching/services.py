"""The matcher as the rest of the service sees it.

- `rank_for_order`: the ranked volunteers for one order (pool `top: n`, broadcast, the
  direct cascade). The scope policy is applied tier by tier: the order's own branch is
  searched first; the community's other branches only if that gives fewer than `limit`
  volunteers, then the street's. Each tier is one spatial retrieval
  (`matching.candidates.search`) scored by the pure ranking (`matching.ranking`).
- `candidates_for`: the same ranking for a secretary's or staff member's screen.
- `batch_propose`: the best assignment of many accepted orders at once (`matching.batch`);
  the secretary confirms it through `orders.services.order_batch_dispatch`.

Reads only: the matcher never changes an order or an offer. Orders asks it for rankings
through `orders.offers.ranked` (registered in `matching.apps`), never by importing it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

import numpy as np
from django.db.models import Q
from django.utils import timezone

from matching import batch, vectorized
from matching.candidates import MEMBERS_FIRST_MAX, Search, search
from matching.ranking import TIER_NAMES, Candidate, OrderFacts, Ranked, Weights, rank
from orders.models import Category, Order
from orders.selectors import batch_orders_for, desk_order_get
from volunteers.models import Area, Branch, Volunteer

# Each tier's retrieval returns this many nearest eligible volunteers (at least), so the
# other components can reorder them: ranking is exact within that pool.
POOL_FACTOR = 2
MIN_POOL = 20
# The branch tree changes when an admin moves a branch; five minutes of staleness is fine.
SCOPE_TTL_S = 300
# How many ranked volunteers per order a batch proposal considers.
BATCH_CANDIDATES = 20


@dataclass(frozen=True)
class RankedVolunteer:
    volunteer_id: int
    score: float
    distance_m: float
    reasons: dict[str, float] = field(default_factory=dict)
    scope: str = "branch"
    details: dict = field(default_factory=dict)


# --- scope and facts -----------------------------------------------------------------------

T = TypeVar("T")


class Memo(Generic[T]):
    """Values kept in this process for `ttl` seconds.

    For what every ranking reads and almost nothing changes (a branch's scope, a category's
    skills): a dict lookup, where the shared cache (Redis in production) would cost a network
    round trip per order, more than the rest of the ranking's Python."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: dict[Hashable, tuple[float, T]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        hit = self._values.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = compute()
        self._values[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        self._values.clear()


@dataclass(frozen=True)
class Scope:
    """Branch ids by tier, [own], [others in its community], [others in its street], and
    how many volunteers belong to each tier, counted up to MEMBERS_FIRST_MAX + 1 (which
    decides how a tier is searched)."""

    tiers: tuple[tuple[int, ...], ...]
    members: tuple[int, ...]


_scopes: Memo[Scope] = Memo(SCOPE_TTL_S)
_skills: Memo[frozenset[int]] = Memo(SCOPE_TTL_S)


def forget_cached() -> None:
    """Drop the memoised scopes and skills (tests, after editing the branch tree)."""
    _scopes.clear()
    _skills.clear()


def branch_scope(branch: Branch) -> Scope:
    return _scopes.get((branch.pk, branch.area_id), lambda: _branch_scope(branch))


def _branch_scope(branch: Branch) -> Scope:
    chain = [branch.area_id]
    parent = Area.objects.filter(pk=branch.area_id).values_list("parent_id", "parent__parent_id").first()
    if parent:
        chain += [a for a in parent if a is not None]
    street = chain[-1]
    community = chain[-2] if len(chain) >= 2 else None
    rows = Branch.objects.filter(
        Q(area_id=street) | Q(area__parent_id=street) | Q(area__parent__parent_id=street)
    ).values_list("id", "area_id", "area__parent_id")
    tiers: list[list[int]] = [[branch.pk], [], []]
    for bid, area_id, parent_id in sorted(rows):
        if bid == branch.pk:
            continue
        same_community = community is not None and community in (area_id, parent_id)
        tiers[1 if same_community else 2].append(bid)
    # Only "few or many" matters (it picks the way in): count up to just past the line.
    cap = MEMBERS_FIRST_MAX + 1
    members = tuple(
        Volunteer.branches.through.objects.filter(branch_id__in=t).order_by()[:cap].count() if t else 0 for t in tiers
    )
    return Scope(tiers=tuple(tuple(t) for t in tiers), members=members)


def _category_skills(category_id: int) -> frozenset[int]:
    return _skills.get(
        category_id,
        lambda: frozenset(
            Category.skills.through.objects.filter(category_id=category_id).values_list("skill_id", flat=True)
        ),
    )


def _local(moment: datetime | None) -> datetime | None:
    return timezone.localtime(moment).replace(tzinfo=None) if moment is not None else None


def order_facts(order: Order, *, now: datetime, declined: Collection[int] = ()) -> OrderFacts:
    return OrderFacts(
        order_id=order.pk,
        lat=order.lat,
        lng=order.lng,
        requester_user_id=order.resident_id,
        skills=_category_skills(order.category_id),
        declined=frozenset(declined),
        now=_local(now),
        window_start=_local(order.window_start),
        window_end=_local(order.window_end),
    )


# --- ranking -------------------------------------------------------------------------------


def rank_order(order: Order, *, limit: int, exclude: Collection[int] = (), now: datetime | None = None) -> list[Ranked]:
    """The ranked rows (ranking.Ranked) for an order, own branch first.

    One retrieval (`matching.candidates.search`) returns the pool tier by tier, with every
    hard filter that SQL can check already applied (declined offers included); the pure
    ranking re-checks them all and scores."""
    if limit <= 0:
        return []
    facts, found, weights = _pool(order, limit=limit, exclude=exclude, now=now or timezone.now())
    return rank(facts, found, weights=weights, limit=limit)


def _pool(order: Order, *, limit: int, exclude: Collection[int], now: datetime) -> tuple[OrderFacts, list, Weights]:
    """The order's facts, the candidates the retrieval found for it and the branch's weights."""
    facts = order_facts(order, now=now, declined=exclude)
    scope = branch_scope(order.branch)
    pool = max(limit * POOL_FACTOR, MIN_POOL)
    found = search(
        Search(
            order_id=order.pk,
            lat=order.lat,
            lng=order.lng,
            requester_user_id=order.resident_id,
            tiers=scope.tiers,
            members=scope.members,
            skill_ids=facts.skills,
            now=now,
            pool=pool,
            enough=limit,
            exclude=exclude,
        )
    )
    return facts, found, Weights.with_overrides(order.branch.matching_weights)


def rank_for_order(order, *, limit: int, exclude: Collection[int] = ()) -> list[RankedVolunteer]:
    """Volunteers who may take the order, best first (the contract `orders.services` uses)."""
    return [_public(r) for r in rank_order(order, limit=limit, exclude=exclude)]


def _public(r: Ranked) -> RankedVolunteer:
    return RankedVolunteer(
        volunteer_id=r.volunteer_id,
        score=r.score,
        distance_m=r.distance_m,
        reasons=dict(r.reasons),
        scope=TIER_NAMES[r.tier],
        details=dict(r.details),
    )


# --- reads for the desk --------------------------------------------------------------------


def candidates_for(*, user, order_id: int, limit: int = 20) -> list[RankedVolunteer]:
    """The ranking a secretary sees for an order, with reasons. Volunteers' coordinates are
    never part of it: only the distance to the order."""
    order = desk_order_get(user, order_id)
    return rank_for_order(order, limit=limit)


# --- batch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    assignments: list[batch.Assignment]
    unassigned: list[int]
    candidates: dict[int, list[RankedVolunteer]]


def batch_propose(*, user, order_ids: Sequence[int]) -> Proposal:
    """The assignment of the given accepted orders that maximises the total score without
    giving any volunteer more orders than their free capacity. Nothing is changed: the
    secretary confirms (or edits) it with `orders.services.order_batch_dispatch`."""
    orders = batch_orders_for(user, order_ids, "orders")
    now = timezone.now()
    facts, weights, ranked_by_order = [], [], {}
    volunteers: dict[int, Candidate] = {}
    for order in orders:
        order_facts_, found, order_weights = _pool(order, limit=BATCH_CANDIDATES, exclude=(), now=now)
        ranked = rank(order_facts_, found, weights=order_weights, limit=BATCH_CANDIDATES)
        ranked_by_order[order.pk] = [_public(r) for r in ranked]
        facts.append(order_facts_)
        weights.append(order_weights)
        shortlisted = {r.volunteer_id for r in ranked}
        for c in found:
            if c.volunteer_id in shortlisted:
                volunteers.setdefault(c.volunteer_id, c)
    # Every pair's score at once (matching.vectorized: the ranking's formula over arrays), then
    # only the pairs each order's own ranking shortlisted: scope tiers are relative to the order.
    pool = list(volunteers.values())
    matrix = vectorized.scores(facts, pool, weights)
    column = {c.volunteer_id: j for j, c in enumerate(pool)}
    shortlist = np.zeros(matrix.shape, dtype=bool)
    for i, order in enumerate(orders):
        shortlist[i, [column[r.volunteer_id] for r in ranked_by_order[order.pk]]] = True
    matrix = np.where(shortlist & np.isfinite(matrix), matrix, 0.0)
    free = np.array([c.capacity - c.held for c in pool], dtype=np.int64)
    chosen = [
        batch.Assignment(orders[i].pk, pool[j].volunteer_id, float(matrix[i, j])) for i, j in batch.assign(matrix, free)
    ]
    chosen.sort(key=lambda a: [o.pk for o in orders].index(a.order_id))
    assigned = {a.order_id for a in chosen}
    return Proposal(
        assignments=chosen,
        unassigned=[o.pk for o in orders if o.pk not in assigned],
        candidates=ranked_by_order,
    )
