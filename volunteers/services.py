from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.errors import InvalidInput, NotPermitted
from volunteers.models import Skill, Volunteer


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
