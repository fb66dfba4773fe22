"""The matcher as the rest of the service sees it: `rank_for_order`.

This first version ranks the on-duty members of the order's branch by distance, applying
the hard filters (not the requester, below capacity, within range, has not declined).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from django.db.models import Count, Q

from volunteers.models import Volunteer
from volunteers.selectors import distance_m


@dataclass(frozen=True)
class RankedVolunteer:
    volunteer_id: int
    score: float
    distance_m: float
    reasons: dict[str, float] = field(default_factory=dict)


def rank_for_order(order, *, limit: int, exclude: Collection[int] = ()) -> list[RankedVolunteer]:
    from orders.models import Offer
    from orders.states import HELD

    declined = Offer.objects.filter(order=order, status=Offer.Status.DECLINED).values("volunteer_id")
    volunteers = (
        Volunteer.objects.filter(branches=order.branch_id, on_duty=True)
        .exclude(user_id=order.resident_id)
        .exclude(pk__in=declined)
        .exclude(pk__in=list(exclude))
        .annotate(held=Count("orders", filter=Q(orders__status__in=[s.value for s in HELD])))
    )
    rows: list[RankedVolunteer] = []
    for v in volunteers:
        if v.held >= v.capacity:
            continue
        lat, lng = (v.live_lat, v.live_lng) if v.live_lat is not None else (v.base_lat, v.base_lng)
        d = distance_m(order.lat, order.lng, lat, lng)
        if d > v.service_radius_km * 1000:
            continue
        score = round(1.0 - d / (v.service_radius_km * 1000), 6)
        rows.append(RankedVolunteer(v.pk, score, d, {"distance": score}))
    rows.sort(key=lambda r: (-r.score, r.volunteer_id))
    return rows[:limit]
