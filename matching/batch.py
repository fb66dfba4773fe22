"""Batch dispatch: assign many orders at once so that the total score is as high as possible
while no volunteer gets more orders than their free capacity (DESIGN.md, dispatch modes).

Pure (numpy + scipy, no Django). The assignment is a maximum-weight bipartite matching:
each volunteer is expanded into one column per free slot and `linear_sum_assignment`
(the Jonker-Volgenant shortest augmenting path) picks at most one slot per order.
A pair without a score is worth 0, so an order is left unassigned rather than given to
someone who may not take it. Maximising the total means the result is never worse than
the greedy "best pair first" assignment, which `greedy` computes for comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Assignment:
    order_id: int
    volunteer_id: int
    score: float


def _usable(scores: Mapping[tuple[int, int], float], order_ids: Sequence[int], free: Mapping[int, int]):
    wanted = set(order_ids)
    return {
        (o, v): s for (o, v), s in scores.items() if o in wanted and free.get(v, 0) > 0 and s > 0 and np.isfinite(s)
    }


def propose(
    *, order_ids: Sequence[int], free: Mapping[int, int], scores: Mapping[tuple[int, int], float]
) -> list[Assignment]:
    """The assignment of maximum total score. `free[v]` = orders volunteer v may still take;
    `scores[(order, volunteer)]` = the ranking's score for an eligible pair (absent = not
    eligible). Returns one row per assigned order, in the order of `order_ids`."""
    order_ids = list(dict.fromkeys(order_ids))
    pairs = _usable(scores, order_ids, free)
    if not pairs:
        return []
    volunteers = sorted({v for _, v in pairs})
    # A volunteer never needs more slots than there are orders they could take.
    edges_per_volunteer: dict[int, int] = {}
    for _, v in pairs:
        edges_per_volunteer[v] = edges_per_volunteer.get(v, 0) + 1
    start: dict[int, int] = {}
    width = 0
    for v in volunteers:
        start[v] = width
        width += min(free[v], edges_per_volunteer[v])
    row_of = {o: i for i, o in enumerate(order_ids)}
    matrix = np.zeros((len(order_ids), width))
    for (o, v), s in pairs.items():
        first = start[v]
        matrix[row_of[o], first : first + min(free[v], edges_per_volunteer[v])] = s
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    column_owner = np.repeat(
        np.array(volunteers, dtype=np.int64), [min(free[v], edges_per_volunteer[v]) for v in volunteers]
    )
    chosen = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        if matrix[r, c] > 0:
            chosen.append(Assignment(order_ids[r], int(column_owner[c]), float(matrix[r, c])))
    return chosen


def greedy(
    *, order_ids: Sequence[int], free: Mapping[int, int], scores: Mapping[tuple[int, int], float]
) -> list[Assignment]:
    """Best remaining pair first: the baseline the optimal assignment must never fall below."""
    order_ids = list(dict.fromkeys(order_ids))
    left = dict(free)
    taken: set[int] = set()
    chosen = []
    for (o, v), s in sorted(_usable(scores, order_ids, free).items(), key=lambda kv: (-kv[1], kv[0])):
        if o in taken or left.get(v, 0) <= 0:
            continue
        taken.add(o)
        left[v] -= 1
        chosen.append(Assignment(o, v, s))
    position = {o: i for i, o in enumerate(order_ids)}
    return sorted(chosen, key=lambda a: position[a.order_id])


def total(assignments: Sequence[Assignment]) -> float:
    return float(sum(a.score for a in assignments))
