"""A ranked volunteer's reasons as a secretary reads them: plain facts ("500 m away", "has
the skill", "2 orders in the last 30 days") from the matcher's details, each carrying its
contribution to the score for whoever wants the number (shown on hover)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from matching.candidates import RECENT
from web.templatetags.web_tags import distance


@dataclass(frozen=True)
class Reason:
    name: str  # the matcher's component: skill, distance, load, fairness, reliability, rating
    text: str
    points: float  # its weighted contribution to the score


def _skill(d: Mapping) -> str:
    needed, matched = int(d.get("skills_needed") or 0), int(d.get("skills_matched") or 0)
    if needed == 0:
        return _("no special skill needed")
    if matched >= needed:
        return _("has the skill") if needed == 1 else _("has all %(n)d skills") % {"n": needed}
    if matched == 0:
        return _("lacks the skill") if needed == 1 else _("has none of the %(n)d skills") % {"n": needed}
    return _("has %(m)d of %(n)d skills") % {"m": matched, "n": needed}


def _load(d: Mapping) -> str:
    held, capacity = int(d.get("held") or 0), int(d.get("capacity") or 0)
    if held == 0:
        return _("free now")
    return _("already holds %(held)d of %(capacity)d") % {"held": held, "capacity": capacity}


def _fairness(d: Mapping) -> str:
    n = int(d.get("recent_orders") or 0)
    days = RECENT.days
    if n == 0:
        return _("no order in the last %(days)d days") % {"days": days}
    return ngettext("%(n)d order in the last %(days)d days", "%(n)d orders in the last %(days)d days", n) % {
        "n": n,
        "days": days,
    }


def _reliability(d: Mapping) -> str:
    finished, dropped = int(d.get("finished") or 0), int(d.get("dropped") or 0)
    if finished + dropped == 0:
        return _("new: no order finished yet")
    if dropped == 0:
        return ngettext("finished %(n)d order, dropped none", "finished all %(n)d orders", finished) % {"n": finished}
    return _("finished %(f)d, gave up %(d)d") % {"f": finished, "d": dropped}


def _rating(d: Mapping) -> str:
    mean, count = d.get("rating"), int(d.get("ratings") or 0)
    if mean is None or count == 0:
        return _("not rated yet")
    return ngettext("rated %(mean)s★ (%(n)d rating)", "rated %(mean)s★ (%(n)d ratings)", count) % {
        "mean": f"{float(mean):.1f}",
        "n": count,
    }


def _distance(d: Mapping) -> str:
    metres = d.get("distance_m")
    if metres is None:
        return ""
    # Rounded to 100 m, as everything else the desk and the offers show.
    return _("%(distance)s away") % {"distance": distance(int(round(float(metres) / 100.0) * 100))}


_TEXTS = {
    "skill": _skill,
    "distance": _distance,
    "load": _load,
    "fairness": _fairness,
    "reliability": _reliability,
    "rating": _rating,
}


def plain_reasons(reasons: Mapping[str, float], details: Mapping) -> list[Reason]:
    """The reasons, strongest contribution first, in words."""
    rows = [
        Reason(name=name, text=_TEXTS[name](details), points=points)
        for name, points in reasons.items()
        if name in _TEXTS
    ]
    rows.sort(key=lambda r: -r.points)
    return [r for r in rows if r.text]
