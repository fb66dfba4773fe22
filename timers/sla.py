"""SLA durations: defaults from settings, per-branch overrides from `Branch.sla` (minutes).

`Branch.sla` keys: "review" (submitted → reviewed), "offer" (an offer open → claimed),
"start" (claimed → started; the release comes after twice as long), "confirm" (completed →
confirmed). A key that is missing or not a positive number falls back to the default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from volunteers.models import Branch

logger = logging.getLogger(__name__)

KEYS = ("review", "offer", "start", "confirm")


def default_minutes() -> dict[str, int]:
    conf = settings.SANDAN_TIMERS
    return {
        "review": conf["REVIEW_MINUTES"],
        "offer": conf["OFFER_MINUTES"],
        "start": conf["START_MINUTES"],
        "confirm": conf["CONFIRM_MINUTES"],
    }


def _clean(branch_id: int, raw: object) -> dict[str, int]:
    if not isinstance(raw, dict):
        return {}
    clean: dict[str, int] = {}
    for key, value in raw.items():
        if key in KEYS and isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            clean[key] = int(value)
        else:
            logger.warning("branch %s: ignoring SLA override %r=%r", branch_id, key, value)
    return clean


@dataclass
class Sla:
    """The SLA table for one tick: read once, so that a tick sees one consistent set."""

    defaults: dict[str, int]
    overrides: dict[int, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Sla:
        rows = Branch.objects.exclude(sla={}).values_list("id", "sla")
        overrides = {bid: clean for bid, raw in rows if (clean := _clean(bid, raw))}
        return cls(defaults=default_minutes(), overrides=overrides)

    def minutes(self, branch_id: int, key: str) -> int:
        return self.overrides.get(branch_id, {}).get(key, self.defaults[key])

    def cutoff_q(self, field_name: str, key: str, now: datetime, factor: int = 1) -> Q:
        """Rows whose `field_name` is at least the branch's SLA (times `factor`) before `now`.

        Exact per branch in one query: branches that override `key` are grouped by their value,
        everyone else gets the default. Overrides are few, so the OR stays short."""
        groups: dict[int, list[int]] = {}
        for branch_id, values in self.overrides.items():
            if key in values:
                groups.setdefault(values[key], []).append(branch_id)
        special = [bid for ids in groups.values() for bid in ids]
        default_cut = now - timedelta(minutes=self.defaults[key] * factor)
        q = Q(**{f"{field_name}__lte": default_cut}) & ~Q(branch_id__in=special)
        for minutes, ids in groups.items():
            q |= Q(branch_id__in=ids, **{f"{field_name}__lte": now - timedelta(minutes=minutes * factor)})
        return q
