"""Batch dispatch: assign many orders at once so that the total score is as high as possible
while no volunteer gets more orders than their free capacity (docs/design.md, "The lifecycle": batch).

Pure (numpy + scipy, no Django). The assignment is a maximum-weight bipartite matching:
each volunteer is expanded into one column per free slot and `linear_sum_assignment`
(a shortest augmenting path, Jonker-Volgenant style) picks at most one slot per order. A
pair without a score is worth 0, so an order is left unassigned rather than given to
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


def assign(scores: np.ndarray, free: np.ndarray) -> list[tuple[int, int]]:
    """The matrix form: `scores[i, j]` > 0 when order i may go to volunteer j (else not
    eligible), `free[j]` = how many more orders volunteer j may take. Returns (i, j) pairs
    of maximum total score, each i at most once, each j at most free[j] times."""
    scores = np.where(np.isfinite(scores) & (scores > 0), scores, 0.0)
    n_orders = scores.shape[0]
    eligible = (scores > 0).sum(axis=0)
    # A volunteer never needs more slots than orders they could take.
    slots = np.minimum(np.clip(np.asarray(free, dtype=np.int64), 0, None), eligible)
    slots = np.minimum(slots, n_orders)
    columns = np.repeat(np.arange(scores.shape[1]), slots)
    if n_orders == 0 or columns.size == 0:
        return []
    expanded = scores[:, columns]
    rows, cols = linear_sum_assignment(expanded, maximize=True)
    keep = expanded[rows, cols] > 0
    return list(zip(rows[keep].tolist(), columns[cols[keep]].tolist(), strict=True))


def greedy_pairs(scores: np.ndarray, free: np.ndarray) -> list[tuple[int, int]]:
    """Best remaining pair first, ties by position: the baseline `assign` must not fall below."""
    left = np.clip(np.asarray(free, dtype=np.int64), 0, None).copy()
    rows, cols = np.nonzero(np.isfinite(scores) & (scores > 0))
    order = np.lexsort((cols, rows, -scores[rows, cols]))
    taken = np.zeros(scores.shape[0], dtype=bool)
    pairs = []
    for k in order.tolist():
        i, j = int(rows[k]), int(cols[k])
        if taken[i] or left[j] <= 0:
            continue
        taken[i] = True
        left[j] -= 1
        pairs.append((i, j))
        if len(pairs) == scores.shape[0]:
            break
    return pairs


def _matrix(order_ids: Sequence[int], free: Mapping[int, int], scores: Mapping[tuple[int, int], float]):
    order_ids = list(dict.fromkeys(order_ids))
    row_of = {o: i for i, o in enumerate(order_ids)}
    volunteers = sorted({v for (o, v), s in scores.items() if o in row_of and s > 0 and free.get(v, 0) > 0})
    col_of = {v: j for j, v in enumerate(volunteers)}
    matrix = np.zeros((len(order_ids), len(volunteers)))
    for (o, v), s in scores.items():
        if o in row_of and v in col_of:
            matrix[row_of[o], col_of[v]] = s
    capacity = np.array([free[v] for v in volunteers], dtype=np.int64)
    return order_ids, volunteers, matrix, capacity


def _as_assignments(pairs, order_ids, volunteers, matrix) -> list[Assignment]:
    chosen = [Assignment(order_ids[i], volunteers[j], float(matrix[i, j])) for i, j in pairs]
    return sorted(chosen, key=lambda a: order_ids.index(a.order_id))


def propose(
    *, order_ids: Sequence[int], free: Mapping[int, int], scores: Mapping[tuple[int, int], float]
) -> list[Assignment]:
    """The assignment of maximum total score. `free[v]` = orders volunteer v may still take;
    `scores[(order, volunteer)]` = the ranking's score for an eligible pair (absent = not
    eligible). Returns one row per assigned order, in the order of `order_ids`."""
    ids, volunteers, matrix, capacity = _matrix(order_ids, free, scores)
    return _as_assignments(assign(matrix, capacity), ids, volunteers, matrix)


def greedy(
    *, order_ids: Sequence[int], free: Mapping[int, int], scores: Mapping[tuple[int, int], float]
) -> list[Assignment]:
    ids, volunteers, matrix, capacity = _matrix(order_ids, free, scores)
    return _as_assignments(greedy_pairs(matrix, capacity), ids, volunteers, matrix)


def total(assignments: Sequence[Assignment]) -> float:
    return float(sum(a.score for a in assignments))
