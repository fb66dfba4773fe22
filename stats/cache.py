"""The figures of a scope and period, kept for `SANDAN["STATS_CACHE_SECONDS"]` (30 s).

Computing them took 9 ms of CPU and 12 statements per `GET /api/v1/stats`, and the dashboard
twice that (docs/performance.md, "Third pass"), on every read, though they are figures over
days and months that staff read again and again. They may be up to that many seconds old:
`overdue` ("still open past its limit now") is the only one that moves by the minute, and
the desk, not the dashboard, is where an overdue order is acted on.

Kept per cohort (period, branches, volunteer, category), not per caller: who may read a
scope is decided on every request (`stats.selectors.scope_for`) before the cache is asked,
and two callers of the same scope read the same figures. What holds translated names is
kept per language too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")


def remembered(kind: str, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or what it returned for the same `kind` and `key` within the last
    STATS_CACHE_SECONDS. A cache that is away (project/cache.py) only means computing."""
    seconds = int(settings.SANDAN.get("STATS_CACHE_SECONDS", 0))
    if seconds <= 0:
        return compute()
    name = f"stats:{kind}:{hashlib.sha256(repr(key).encode()).hexdigest()[:32]}"
    found = cache.get(name)
    if found is not None:
        return found  # type: ignore[no-any-return]
    value = compute()
    cache.set(name, value, seconds)
    return value
