"""How long an order may wait at each step: the one definition, read by the timers (when to
escalate, widen, remind, release, close), the desk (which orders are overdue) and the
statistics (how many are overdue).

Minutes per key; defaults from settings (`SANDAN_*_MINUTES`), per-branch overrides in
`Branch.sla`:
- "review":   submitted → reviewed (escalated to staff when it runs out)
- "dispatch": accepted → dispatched (the desk's own clock; no timer acts on it)
- "offer":    dispatched → claimed (the offers widen when it runs out)
- "start":    claimed → started (a reminder; after twice as long, a release)
- "complete": started → completed (the desk's clock)
- "confirm":  completed → confirmed (closed automatically)
A key that is missing or not a positive number falls back to the default; "claim", the
desk's earlier name for "offer", is read as "offer".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from core.memo import memoised
from orders.models import Order
from orders.states import Status
from volunteers.models import Branch

logger = logging.getLogger(__name__)

KEYS = ("review", "dispatch", "offer", "start", "complete", "confirm")
ALIASES = {"claim": "offer"}
_SETTINGS = {key: f"{key.upper()}_MINUTES" for key in KEYS}

# An order waits in its state against this key's limit, from this timestamp (the desk's and
# the statistics' "overdue"; the timers anchor some steps more finely, see timers.services).
CLOCKS: dict[Status, tuple[str, str]] = {
    Status.SUBMITTED: ("review", "created_at"),
    Status.ACCEPTED: ("dispatch", "reviewed_at"),
    Status.DISPATCHED: ("offer", "dispatched_at"),
    Status.CLAIMED: ("start", "claimed_at"),
    Status.IN_PROGRESS: ("complete", "started_at"),
}


def default_minutes() -> dict[str, int]:
    conf = settings.SANDAN_TIMERS
    return {key: int(conf[name]) for key, name in _SETTINGS.items()}


def clean_overrides(branch_id: int, raw: object) -> dict[str, int]:
    """A branch's `sla` as minutes per key; nonsense is logged and ignored, not fatal."""
    if not isinstance(raw, dict):
        return {}
    clean: dict[str, int] = {}
    for key, value in raw.items():
        canonical = ALIASES.get(key, key)
        valid = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        if canonical in KEYS and valid:
            if key == canonical or canonical not in raw:  # the canonical name wins over its alias
                clean[canonical] = int(value)
        else:
            logger.warning("branch %s: ignoring SLA override %r=%r", branch_id, key, value)
    return clean


@dataclass
class Sla:
    """The SLA table, read once so that one tick (or one page) sees one consistent set."""

    defaults: dict[str, int]
    overrides: dict[int, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Sla:
        rows = Branch.objects.exclude(sla={}).values_list("id", "sla")
        overrides = {bid: clean for bid, raw in rows if (clean := clean_overrides(bid, raw))}
        return cls(defaults=default_minutes(), overrides=overrides)

    @classmethod
    def for_request(cls) -> Sla:
        """`load`, once per request (`core.memo`): a page's panels and figures read one table,
        one statement; outside a request (the timers' ticks) it reads afresh."""
        return memoised(("sla",), cls.load)

    @classmethod
    def of(cls, branch: Branch) -> Sla:
        """The table for one branch already in hand (no query)."""
        return cls(defaults=default_minutes(), overrides={branch.pk: clean_overrides(branch.pk, branch.sla)})

    def minutes(self, branch_id: int, key: str) -> int:
        return self.overrides.get(branch_id, {}).get(key, self.defaults[key])

    def _groups(self, key: str) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for branch_id, values in self.overrides.items():
            if key in values:
                groups.setdefault(values[key], []).append(branch_id)
        return groups

    def cutoff_q(self, field_name: str, key: str, now: datetime, factor: int = 1, *, strict: bool = False) -> Q:
        """Rows whose `field_name` is at least (`strict`: more than) the branch's SLA, times
        `factor`, before `now`. Exact per branch in one query: branches that override `key`
        are grouped by their value, everyone else gets the default. Overrides are few."""
        lookup = "lt" if strict else "lte"
        groups = self._groups(key)
        special = [bid for ids in groups.values() for bid in ids]
        default_cut = now - timedelta(minutes=self.defaults[key] * factor)
        q = Q(**{f"{field_name}__{lookup}": default_cut}) & ~Q(branch_id__in=special)
        for minutes, ids in groups.items():
            q |= Q(branch_id__in=ids, **{f"{field_name}__{lookup}": now - timedelta(minutes=minutes * factor)})
        return q

    def overdue_q(self, now: datetime) -> Q:
        """Open orders that have waited longer than their state's limit."""
        q = Q(pk__in=[])
        for status, (key, field_name) in CLOCKS.items():
            q |= Q(status=status) & self.cutoff_q(field_name, key, now, strict=True)
        return q


@dataclass(frozen=True)
class Clock:
    since: datetime
    minutes: int
    limit: int

    @property
    def overdue(self) -> bool:
        return self.minutes > self.limit


def clock_for(order: Order, now: datetime | None = None, *, sla: Sla | None = None) -> Clock | None:
    """How long the order has waited in its current state, against that state's limit."""
    clock = CLOCKS.get(Status(order.status))
    if clock is None:
        return None
    key, field_name = clock
    since = getattr(order, field_name, None) or order.updated_at or order.created_at
    minutes = int(((now or timezone.now()) - since).total_seconds() // 60)
    limit = (sla or Sla.of(order.branch)).minutes(order.branch_id, key)
    return Clock(since=since, minutes=max(minutes, 0), limit=limit)
