from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import InvalidInput, NotPermitted, ServiceError
from volunteers.models import LocationPing, Skill, Volunteer, VolunteerRecord

# A live location counts for the matcher this long after the ping; then the base one does.
LIVE_FRESH = timedelta(minutes=10)


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


class LocationTooFrequent(ServiceError):
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


@transaction.atomic
def volunteer_expire_live_locations(*, now: datetime | None = None) -> int:
    """Forget live positions older than LIVE_FRESH (the worker runs this every pass).

    The matcher walks one spatial index over "the live position if there is one, else the
    base", so a stale position must leave the row for the volunteer to be found at their base
    again; until this runs the matcher still measures a stale volunteer from their base
    (it checks `live_at`), it only finds them later in its walk. live_at stays: it is the time
    of the last ping, which the location rate limit reads."""
    cutoff = (now or timezone.now()) - LIVE_FRESH
    return Volunteer.objects.filter(live_lat__isnull=False, live_at__lt=cutoff).update(live_lat=None, live_lng=None)


# --- the volunteer's record (load, completions, dropped offers, ratings) ------------------------

_RECORD_FIELDS = ("held", "finished", "dropped", "rating_count", "rating_sum")
_REBUILD = """
INSERT INTO {record} (volunteer_id, held, finished, dropped, rating_count, rating_sum)
SELECT v.id,
       (SELECT count(*) FROM {order} o WHERE o.volunteer_id = v.id AND o.status IN ({held})),
       (SELECT count(*) FROM {order} o WHERE o.volunteer_id = v.id AND o.status IN ({finished})),
       (SELECT count(*) FROM {offer} f WHERE f.volunteer_id = v.id AND f.status IN ({dropped})),
       (SELECT count(*) FROM {rating} r WHERE r.volunteer_id = v.id),
       (SELECT coalesce(sum(r.rating), 0) FROM {rating} r WHERE r.volunteer_id = v.id)
  FROM {volunteer} v
 WHERE {where}
ON CONFLICT (volunteer_id) DO UPDATE SET {fields}
"""


@dataclass(frozen=True)
class RecordSources:
    """Where a record's counts come from: the tables and the states that count. The lifecycle
    that keeps the records (orders) knows them; `orders.records` builds this."""

    order_table: str
    offer_table: str
    rating_table: str
    held: tuple[str, ...]
    finished: tuple[str, ...]
    dropped: tuple[str, ...]


def volunteer_record_add(
    *, volunteer_id: int, held: int = 0, finished: int = 0, dropped: int = 0, rating: int | None = None
) -> bool:
    """Count one change of the volunteer's record, inside the caller's transaction. Returns
    False when the volunteer has no record yet: the caller then has it recounted
    (`orders.records.record_add` does), from source tables that include its change.

    An atomic increment (concurrent changes of the same volunteer add up; the row lock is
    taken last in every lifecycle transaction, after the order and its offers, so it adds no
    lock cycle)."""
    deltas = {"held": held, "finished": finished, "dropped": dropped}
    if rating is not None:
        deltas.update(rating_count=1, rating_sum=rating)
    changes = {name: F(name) + delta for name, delta in deltas.items() if delta}
    if not changes:
        return True
    return VolunteerRecord.objects.filter(pk=volunteer_id).update(**changes) == 1


@transaction.atomic
def volunteer_records_rebuild(*, sources: RecordSources, volunteer_ids: list[int] | None = None) -> int:
    """Recount records from `sources`: all of them, or the given volunteers'.

    Safe beside live traffic: the rows (or, for a full rebuild on PostgreSQL, the table) are
    locked before the recount, so a lifecycle change either committed before it (and is
    counted) or adds its increment after it (on top of a count that left it out)."""
    record = VolunteerRecord._meta.db_table
    if volunteer_ids is not None:
        ids = sorted(set(volunteer_ids))
        if not ids:
            return 0
        VolunteerRecord.objects.bulk_create([VolunteerRecord(volunteer_id=i) for i in ids], ignore_conflicts=True)
        list(VolunteerRecord.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
        where, where_params = f"v.id IN ({', '.join(['%s'] * len(ids))})", list(ids)
    else:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {record} IN EXCLUSIVE MODE")
        where, where_params = "1 = 1", []

    def marks(values: tuple[str, ...]) -> str:
        return ", ".join(["%s"] * len(values))

    # Table names from the models and placeholders: nothing here comes from a user.
    sql = _REBUILD.format(
        record=record,
        volunteer=Volunteer._meta.db_table,
        order=sources.order_table,
        offer=sources.offer_table,
        rating=sources.rating_table,
        held=marks(sources.held),
        finished=marks(sources.finished),
        dropped=marks(sources.dropped),
        where=where,
        fields=", ".join(f"{name} = excluded.{name}" for name in _RECORD_FIELDS),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*sources.held, *sources.finished, *sources.dropped, *where_params])
        return cursor.rowcount
