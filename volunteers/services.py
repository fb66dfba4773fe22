from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.errors import InvalidInput, NotPermitted, OrderError
from volunteers.models import LocationPing, Skill, Volunteer


@transaction.atomic
def volunteer_update(*, user, data: dict[str, Any]) -> Volunteer:
    """A volunteer edits their own duty status, location, skills and limits.

    Going off duty clears the live location: nobody should see where an off-duty volunteer is.
    """
    volunteer = Volunteer.objects.select_for_update().filter(user=user).first()
    if volunteer is None:
        raise NotPermitted(_("You are not registered as a volunteer."))
    if "skills" in data:
        codes = list(dict.fromkeys(data.pop("skills")))
        skills = list(Skill.objects.filter(code__in=codes))
        unknown = sorted(set(codes) - {s.code for s in skills})
        if unknown:
            raise InvalidInput(fields={"skills": [_("Unknown skill: %(code)s") % {"code": c} for c in unknown]})
        volunteer.skills.set(skills)
    if "lat" in data or "lng" in data:
        # A phone's position is its live location; the base location is edited in admin.
        volunteer.live_lat = data.pop("lat", volunteer.live_lat)
        volunteer.live_lng = data.pop("lng", volunteer.live_lng)
        volunteer.live_at = timezone.now()
    for field in ("on_duty", "service_radius_km", "capacity", "availability"):
        if field in data:
            setattr(volunteer, field, data[field])
    if not volunteer.on_duty:
        volunteer.live_lat = volunteer.live_lng = volunteer.live_at = None
    volunteer.save()
    return volunteer


class LocationTooFrequent(OrderError):
    status_code = 429
    code = "rate_limited"
    default_message = "Location is sent too often."


@transaction.atomic
def volunteer_record_location(*, user_id: int, lat: float, lng: float, accuracy_m: float | None = None) -> LocationPing:
    """An on-duty volunteer's phone reports where it is (the `location` WebSocket frame).

    Stores a LocationPing with its time and makes it the volunteer's live location, which the
    matcher prefers while fresh; residents never see it. Invariants: only an on-duty volunteer
    has a live location, and at most one ping per REALTIME["LOCATION_MIN_SECONDS"] is stored per
    volunteer whichever socket or process it came through. Both hold under concurrency because
    one conditional UPDATE of the volunteer row (on duty, live_at older than the interval)
    decides: of two pings at once, one matches; an off-duty switch (which clears live_*) either
    commits first (nothing matches) or after (and clears what this wrote).
    """
    errors: dict[str, list[str]] = {}
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        errors["lat"] = [_("Latitude must be between -90 and 90.")]
    if not (math.isfinite(lng) and -180 <= lng <= 180):
        errors["lng"] = [_("Longitude must be between -180 and 180.")]
    if accuracy_m is not None and not (math.isfinite(accuracy_m) and 0 <= accuracy_m <= 100_000):
        errors["accuracy"] = [_("Accuracy must be a distance in metres.")]
    if errors:
        raise InvalidInput(fields=errors)
    volunteer_id = Volunteer.objects.filter(user_id=user_id).values_list("pk", flat=True).first()
    if volunteer_id is None:
        raise NotPermitted(_("You are not registered as a volunteer."))
    now = timezone.now()
    interval = timedelta(seconds=settings.REALTIME["LOCATION_MIN_SECONDS"])
    updated = (
        Volunteer.objects.filter(pk=volunteer_id, on_duty=True)
        .filter(Q(live_at__isnull=True) | Q(live_at__lte=now - interval))
        .update(live_lat=lat, live_lng=lng, live_at=now)
    )
    if updated != 1:
        if not Volunteer.objects.filter(pk=volunteer_id, on_duty=True).exists():
            raise NotPermitted(_("Go on duty to share your location."))
        raise LocationTooFrequent(_("Location is sent too often."))
    return LocationPing.objects.create(volunteer_id=volunteer_id, lat=lat, lng=lng, accuracy_m=accuracy_m, at=now)
