"""Candidate retrieval: the volunteers near an order, with the facts the ranking needs.

Never a scan of all volunteers:
- PostgreSQL: a nearest-first walk of GiST indexes on `ll_to_earth(lat, lng)` (the
  `cube` and `earthdistance` extensions that ship with PostgreSQL; migration 0003), one
  for base locations and a partial one for live locations. One statement returns the
  `pool` nearest volunteers who pass every hard filter SQL can check, with their load,
  record and rating aggregated for those rows only (LATERAL subqueries on indexed
  foreign keys).
- Elsewhere (SQLite, the embedded default): a bounding box that grows fourfold until it holds
  enough volunteers, on B-tree indexes over (base_lat, base_lng) and (live_lat, live_lng),
  then the same aggregates as four grouped queries over the candidate ids.

A live location streamed by an on-duty phone is used while fresh (`LIVE_FRESH`); after
that the base location counts. The ranking (`matching.ranking`) re-checks every filter:
the SQL only keeps the pool small.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Q, Sum

from matching.ranking import Candidate, Slot, distance_m
from orders.models import Offer, Order, Rating
from orders.states import HELD, Status
from volunteers.models import Volunteer

LIVE_FRESH = timedelta(minutes=10)
# Orders a volunteer got within this period count against fairness.
RECENT = timedelta(days=30)
# No service radius is larger (Volunteer.service_radius_km validator): nothing beyond it
# can be in range, so no walk ever goes further.
MAX_RADIUS_M = 50_000.0

HELD_STATUSES = tuple(sorted(s.value for s in HELD))
FINISHED_STATUSES = (Status.COMPLETED.value, Status.CLOSED.value)
DROPPED_OFFERS = (Offer.Status.DECLINED.value, Offer.Status.EXPIRED.value)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Search:
    """One retrieval: the `pool` nearest volunteers of `branch_ids` who may take the order."""

    order_id: int
    lat: float
    lng: float
    requester_user_id: int
    branch_ids: Sequence[int]
    skill_ids: Collection[int]
    now: datetime
    pool: int
    exclude: Collection[int] = ()


@dataclass(frozen=True)
class Found:
    """A candidate plus the branches they belong to (the caller turns those into a tier)."""

    candidate: Candidate
    branch_ids: frozenset[int]


def parse_availability(raw: object) -> tuple[Slot, ...]:
    """{"mon": [["08:00", "12:00"]], ...} → slots; malformed entries are skipped."""
    if isinstance(raw, str):  # a raw cursor hands jsonb over as text
        try:
            raw = json.loads(raw)
        except ValueError:
            return ()
    if not isinstance(raw, dict):
        return ()
    slots = []
    for day, spans in raw.items():
        if day not in WEEKDAYS or not isinstance(spans, list):
            continue
        for span in spans:
            try:
                start, end = (_minutes(t) for t in span)
            except (TypeError, ValueError):
                continue
            if start < end:
                slots.append(Slot(WEEKDAYS.index(day), start, end))
    return tuple(sorted(slots, key=lambda s: (s.weekday, s.start_min, s.end_min)))


def _minutes(text: str) -> int:
    hours, minutes = str(text).split(":")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= 24 * 60:
        raise ValueError(text)
    return value


def search(query: Search) -> list[Found]:
    """The pool of nearest candidates, nearest first."""
    if not query.branch_ids or query.pool <= 0:
        return []
    if connection.vendor == "postgresql":
        return _search_postgres(query)
    return _search_portable(query)


# --- PostgreSQL: GiST KNN, one statement ---------------------------------------------------

_COMMON = """
      (v.on_duty OR v.availability <> '{{}}'::jsonb)
      AND v.user_id <> %(requester)s
      AND NOT (v.id = ANY(%(exclude)s))
      AND EXISTS (SELECT 1 FROM {vb} vb WHERE vb.volunteer_id = v.id AND vb.branch_id = ANY(%(branches)s))
      AND NOT EXISTS (SELECT 1 FROM {offer} f WHERE f.order_id = %(order)s AND f.volunteer_id = v.id
                      AND f.status IN ('declined', 'expired'))
      AND earth_box(ll_to_earth(%(lat)s, %(lng)s), %(max_radius)s) @> ll_to_earth({loc})
      AND earth_distance(ll_to_earth({loc}), ll_to_earth(%(lat)s, %(lng)s)) <= v.service_radius_km * 1000 * 1.001
      AND (SELECT count(*) FROM {order_t} o WHERE o.volunteer_id = v.id AND o.status IN {held}) < v.capacity
"""

_KNN = """
WITH near AS (
  (SELECT v.id, v.base_lat AS lat, v.base_lng AS lng, false AS live
     FROM {volunteer} v
    WHERE (v.live_at IS NULL OR v.live_at < %(fresh)s OR v.live_lat IS NULL OR v.live_lng IS NULL)
      AND {common_base}
    ORDER BY ll_to_earth(v.base_lat, v.base_lng) <-> ll_to_earth(%(lat)s, %(lng)s)
    LIMIT %(pool)s)
  UNION ALL
  (SELECT v.id, v.live_lat, v.live_lng, true
     FROM {volunteer} v
    WHERE v.live_lat IS NOT NULL AND v.live_lng IS NOT NULL AND v.live_at >= %(fresh)s
      AND {common_live}
    ORDER BY ll_to_earth(v.live_lat, v.live_lng) <-> ll_to_earth(%(lat)s, %(lng)s)
    LIMIT %(pool)s)
), picked AS (
  SELECT near.*, earth_distance(ll_to_earth(near.lat, near.lng), ll_to_earth(%(lat)s, %(lng)s)) AS dist
    FROM near ORDER BY dist, id LIMIT %(pool)s
)
SELECT p.id, v.user_id, p.lat, p.lng, p.live, v.service_radius_km, v.capacity, v.on_duty, v.availability,
       ARRAY(SELECT vb.branch_id FROM {vb} vb WHERE vb.volunteer_id = p.id),
       ARRAY(SELECT vs.skill_id FROM {vs} vs WHERE vs.volunteer_id = p.id AND vs.skill_id = ANY(%(skills)s)),
       o.held, o.recent, o.finished,
       (SELECT count(*) FROM {offer} f WHERE f.volunteer_id = p.id AND f.status IN ('declined', 'expired')),
       r.n, r.total
  FROM picked p
  JOIN {volunteer} v ON v.id = p.id
  LEFT JOIN LATERAL (
       SELECT count(*) FILTER (WHERE status IN {held}) AS held,
              count(*) FILTER (WHERE claimed_at >= %(recent)s) AS recent,
              count(*) FILTER (WHERE status IN {finished}) AS finished
         FROM {order_t} WHERE volunteer_id = p.id) o ON true
  LEFT JOIN LATERAL (
       SELECT count(*) AS n, coalesce(sum(rating), 0) AS total
         FROM {rating} WHERE volunteer_id = p.id) r ON true
 ORDER BY p.dist, p.id
"""


def _sql_tuple(values: Iterable[str]) -> str:
    # Constants from our own code (status names), never user input.
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _knn_sql() -> str:
    tables = {
        "volunteer": Volunteer._meta.db_table,
        "vb": Volunteer.branches.through._meta.db_table,
        "vs": Volunteer.skills.through._meta.db_table,
        "offer": Offer._meta.db_table,
        "order_t": Order._meta.db_table,
        "rating": Rating._meta.db_table,
        "held": _sql_tuple(HELD_STATUSES),
        "finished": _sql_tuple(FINISHED_STATUSES),
    }
    common_base = _COMMON.format(loc="v.base_lat, v.base_lng", **tables)
    common_live = _COMMON.format(loc="v.live_lat, v.live_lng", **tables)
    return _KNN.format(common_base=common_base, common_live=common_live, **tables)


_KNN_SQL: str | None = None


def _search_postgres(query: Search) -> list[Found]:
    global _KNN_SQL
    if _KNN_SQL is None:
        _KNN_SQL = _knn_sql()
    params = {
        "lat": query.lat,
        "lng": query.lng,
        "requester": query.requester_user_id,
        "exclude": list(query.exclude),
        "branches": list(query.branch_ids),
        "skills": list(query.skill_ids),
        "order": query.order_id,
        "fresh": query.now - LIVE_FRESH,
        "recent": query.now - RECENT,
        "max_radius": MAX_RADIUS_M,
        "pool": query.pool,
    }
    with connection.cursor() as cursor:
        cursor.execute(_KNN_SQL, params)
        rows = cursor.fetchall()
    found = []
    for (vid, uid, lat, lng, live, radius_km, capacity, on_duty, availability, branches, skills, held, recent,
         finished, dropped, n_ratings, rating_total) in rows:  # fmt: skip
        found.append(
            Found(
                Candidate(
                    volunteer_id=vid,
                    user_id=uid,
                    lat=lat,
                    lng=lng,
                    radius_m=radius_km * 1000.0,
                    capacity=capacity,
                    held=held or 0,
                    on_duty=on_duty,
                    live=live,
                    availability=parse_availability(availability) if not on_duty else (),
                    skills=frozenset(skills),
                    recent_orders=recent or 0,
                    finished=finished or 0,
                    dropped=dropped or 0,
                    rating_count=n_ratings or 0,
                    rating_sum=float(rating_total or 0),
                ),
                frozenset(branches),
            )
        )
    return found


# --- portable: growing bounding box on B-tree indexes -------------------------------------

FIRST_BOX_M = 2_000.0


def _box(lat: float, lng: float, half_m: float) -> tuple[float, float, float, float]:
    dlat = half_m / 111_320.0
    dlng = half_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


def _search_portable(query: Search) -> list[Found]:
    fresh = query.now - LIVE_FRESH
    declined = Offer.objects.filter(order_id=query.order_id, status__in=DROPPED_OFFERS).values("volunteer_id")
    in_scope = Volunteer.branches.through.objects.filter(branch_id__in=list(query.branch_ids)).values("volunteer_id")
    base = (
        Volunteer.objects.filter(Q(on_duty=True) | ~Q(availability={}))
        .filter(pk__in=in_scope)
        .exclude(user_id=query.requester_user_id)
        .exclude(pk__in=list(query.exclude))
        .exclude(pk__in=declined)
    )
    stale = Q(live_at__isnull=True) | Q(live_at__lt=fresh) | Q(live_lat__isnull=True) | Q(live_lng__isnull=True)
    half = FIRST_BOX_M
    while True:
        lat0, lat1, lng0, lng1 = _box(query.lat, query.lng, half)
        rows = base.filter(
            (stale & Q(base_lat__range=(lat0, lat1), base_lng__range=(lng0, lng1)))
            | (~stale & Q(live_lat__range=(lat0, lat1), live_lng__range=(lng0, lng1)))
        ).values_list(
            "id", "user_id", "base_lat", "base_lng", "live_lat", "live_lng", "live_at",
            "service_radius_km", "capacity", "on_duty", "availability",
        )  # fmt: skip
        near = []
        for vid, uid, blat, blng, llat, llng, lat_at, radius_km, capacity, on_duty, availability in rows:
            live = llat is not None and llng is not None and lat_at is not None and lat_at >= fresh
            lat, lng = (llat, llng) if live else (blat, blng)
            d = distance_m(query.lat, query.lng, lat, lng)
            # Inside the box's inscribed circle: nothing outside the box can be nearer.
            if d <= radius_km * 1000.0 and d <= half:
                near.append((d, vid, uid, lat, lng, live, radius_km, capacity, on_duty, availability))
        if len(near) >= query.pool or half >= MAX_RADIUS_M:
            break
        half *= 4
    near.sort(key=lambda row: (row[0], row[1]))
    ids = [row[1] for row in near]
    stats = _stats(ids, since=query.now - RECENT, skill_ids=query.skill_ids)
    found = []
    for _d, vid, uid, lat, lng, live, radius_km, capacity, on_duty, availability in near:
        s = stats[vid]
        if s["held"] >= capacity:
            continue
        found.append(
            Found(
                Candidate(
                    volunteer_id=vid,
                    user_id=uid,
                    lat=lat,
                    lng=lng,
                    radius_m=radius_km * 1000.0,
                    capacity=capacity,
                    held=s["held"],
                    on_duty=on_duty,
                    live=live,
                    availability=parse_availability(availability) if not on_duty else (),
                    skills=frozenset(s["skills"]),
                    recent_orders=s["recent"],
                    finished=s["finished"],
                    dropped=s["dropped"],
                    rating_count=s["n_ratings"],
                    rating_sum=float(s["rating_total"]),
                ),
                frozenset(s["branches"]),
            )
        )
        if len(found) >= query.pool:
            break
    return found


def _stats(ids: list[int], *, since: datetime, skill_ids: Collection[int]) -> dict[int, dict]:
    """Load, record and rating of the given volunteers: one grouped query per table."""
    stats: dict[int, dict] = {
        vid: {
            "held": 0,
            "recent": 0,
            "finished": 0,
            "dropped": 0,
            "n_ratings": 0,
            "rating_total": 0,
            "skills": [],
            "branches": [],
        }
        for vid in ids
    }
    if not ids:
        return stats
    orders = (
        Order.objects.filter(volunteer_id__in=ids)
        .order_by()
        .values("volunteer_id")
        .annotate(
            held=Count("id", filter=Q(status__in=HELD_STATUSES)),
            recent=Count("id", filter=Q(claimed_at__gte=since)),
            finished=Count("id", filter=Q(status__in=FINISHED_STATUSES)),
        )
    )
    for row in orders:
        stats[row["volunteer_id"]].update(held=row["held"], recent=row["recent"], finished=row["finished"])
    dropped = (
        Offer.objects.filter(volunteer_id__in=ids, status__in=DROPPED_OFFERS)
        .order_by()
        .values("volunteer_id")
        .annotate(n=Count("id"))
    )
    for row in dropped:
        stats[row["volunteer_id"]]["dropped"] = row["n"]
    ratings = (
        Rating.objects.filter(volunteer_id__in=ids)
        .order_by()
        .values("volunteer_id")
        .annotate(n=Count("id"), total=Sum("rating"))
    )
    for row in ratings:
        stats[row["volunteer_id"]].update(n_ratings=row["n"], rating_total=row["total"] or 0)
    if skill_ids:
        for vid, sid in Volunteer.skills.through.objects.filter(
            volunteer_id__in=ids, skill_id__in=list(skill_ids)
        ).values_list("volunteer_id", "skill_id"):
            stats[vid]["skills"].append(sid)
    for vid, bid in Volunteer.branches.through.objects.filter(volunteer_id__in=ids).values_list(
        "volunteer_id", "branch_id"
    ):
        stats[vid]["branches"].append(bid)
    return stats
