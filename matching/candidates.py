"""Candidate retrieval: the volunteers near an order, with the facts the ranking needs.

Never a scan of all volunteers:
- PostgreSQL: one statement per search, which either walks a GiST index on
  `ll_to_earth(lat, lng)` nearest-first (the `cube` and `earthdistance` extensions that
  ship with PostgreSQL; migration 0003; a partial index for live locations) or starts from
  the scope's memberships (B-tree on branch_id) when the scope has few members. Either
  way the same statement applies every hard filter SQL can check and aggregates load,
  record and rating for the chosen rows only (LATERAL subqueries on indexed foreign keys).
- Elsewhere (SQLite, the embedded default): a bounding box that grows fourfold until it
  holds enough volunteers, on B-tree indexes over (base_lat, base_lng) and
  (live_lat, live_lng), then the same aggregates as grouped queries over the candidate ids.

A live location streamed by an on-duty phone counts while fresh (`LIVE_FRESH`); after
that the base location does. Results come scope tier first (own branch, community,
street), nearest first within a tier. The ranking (`matching.ranking`) re-checks every
filter: the SQL only keeps the pool small.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from django.db import connection
from django.db.models import Count, Q, Sum

from matching.ranking import Candidate, Slot, distance_m
from orders.models import Offer, Order, Rating
from orders.states import HELD, Status
from volunteers.models import Volunteer

LIVE_FRESH = timedelta(minutes=10)
# Orders a volunteer got within this period count against fairness.
RECENT = timedelta(days=30)
# No service radius is larger (Volunteer.service_radius_km validator).
MAX_RADIUS_M = 50_000.0
# A walk looks at no more than this many volunteers per location kind (base, live).
WALK_LIMIT = 1_500
# Scopes with at most this many members are read through their memberships.
MEMBERS_FIRST_MAX = 500

HELD_STATUSES = tuple(sorted(s.value for s in HELD))
FINISHED_STATUSES = (Status.COMPLETED.value, Status.CLOSED.value)
DROPPED_OFFERS = (Offer.Status.DECLINED.value, Offer.Status.EXPIRED.value)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Search:
    """One retrieval: up to `pool` volunteers of the scope who may take the order.

    `tiers` = branch ids by scope tier (own branch, community, street); `members` = how
    many volunteers belong to each tier (it picks the way in). The search stops after the
    tier at which it holds `enough` volunteers."""

    order_id: int
    lat: float
    lng: float
    requester_user_id: int
    tiers: Sequence[Sequence[int]]
    skill_ids: Collection[int]
    now: datetime
    pool: int
    enough: int
    exclude: Collection[int] = ()
    members: Sequence[int] | None = None


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


def search(query: Search) -> list[Candidate]:
    """Candidates, scope tier first then nearest first."""
    tiers = [list(t) for t in query.tiers]
    if not any(tiers) or query.pool <= 0:
        return []
    if connection.vendor != "postgresql":
        return _search_portable(query)
    members = list(query.members) if query.members is not None else [MEMBERS_FIRST_MAX + 1] * len(tiers)
    if sum(members) <= MEMBERS_FIRST_MAX:
        # Few members in the whole street: one statement reads them all, tier by tier.
        return _search_postgres(query, "members", [b for t in tiers for b in t], query.exclude)
    found: list[Candidate] = []
    seen = set(query.exclude)
    for tier, (branch_ids, n) in enumerate(zip(tiers, members, strict=False)):
        if not branch_ids:
            continue
        way = "members" if n <= MEMBERS_FIRST_MAX else "walk"
        rows = _search_postgres(query, way, branch_ids, seen, tier)
        found.extend(rows)
        seen.update(c.volunteer_id for c in rows)
        if len(found) >= query.enough:
            break
    return found


# --- PostgreSQL ----------------------------------------------------------------------------
#
# `walk`: a nearest-first walk of the GiST index over volunteers who could be matched at
# all (on duty or with weekly slots, not the requester, not excluded), capped at
# WALK_LIMIT rows; scope, declined, range and capacity filters run on the walked rows and
# the walk stops as soon as `pool` rows pass. Cheap when the scope's members are dense
# around the order (a territorial branch in a big city): a few dozen index entries.
# `members`: start from the scope's memberships (B-tree on branch_id). Cheap when the
# scope has few members, where a walk would pass many volunteers of other branches.

_TIER = """(SELECT min(CASE WHEN vb.branch_id = ANY(%(t0)s::bigint[]) THEN 0
                         WHEN vb.branch_id = ANY(%(t1)s::bigint[]) THEN 1 ELSE 2 END)
             FROM {vb} vb WHERE vb.volunteer_id = v.id AND vb.branch_id = ANY(%(branches)s::bigint[]))"""

_MATCHABLE = """(v.on_duty OR v.availability <> '{{}}'::jsonb)
         AND v.user_id <> %(requester)s
         AND NOT (v.id = ANY(%(exclude)s::bigint[]))"""

_STALE = "(v.live_at IS NULL OR v.live_at < %(fresh)s OR v.live_lat IS NULL OR v.live_lng IS NULL)"

_FILTERS = """NOT EXISTS (SELECT 1 FROM {offer} f WHERE f.order_id = %(order)s AND f.volunteer_id = {a}.id
                      AND f.status IN ('declined', 'expired'))
      AND earth_distance(ll_to_earth({loc}), ll_to_earth(%(lat)s, %(lng)s)) <= {a}.service_radius_km * 1001
      AND (SELECT count(*) FROM {order_t} o WHERE o.volunteer_id = {a}.id AND o.status IN {held}) < {a}.capacity"""

# One tier at a time. The base walk stops as soon as `pool` volunteers pass; those are the
# nearest in scope, so a fresh live location only matters if it is nearer than the
# farthest of them (the horizon; the whole walk's reach if the pool did not fill, or any
# service radius if the walk ran out of volunteers before its limit). Live
# locations are then looked up inside that box on their partial GiST index.
_WALK = """walked AS (
  SELECT v.id, v.base_lat AS lat, v.base_lng AS lng, v.service_radius_km, v.capacity,
         ll_to_earth(v.base_lat, v.base_lng) <-> ll_to_earth(%(lat)s, %(lng)s) AS chord
    FROM {volunteer} v
   WHERE {stale} AND {matchable}
   ORDER BY ll_to_earth(v.base_lat, v.base_lng) <-> ll_to_earth(%(lat)s, %(lng)s)
   LIMIT {walk}
), base AS (
  SELECT w.id, w.lat, w.lng, false AS live, %(tier)s AS tier, w.chord FROM walked w
   WHERE w.id IN (SELECT vb.volunteer_id FROM {vb} vb WHERE vb.branch_id = ANY(%(branches)s::bigint[]))
     AND {filters}
   LIMIT {pool}
), horizon AS (
  SELECT CASE WHEN (SELECT count(*) FROM base) >= {pool} THEN (SELECT max(chord) FROM base)
              WHEN (SELECT count(*) FROM walked) < {walk} THEN {max_radius}
              ELSE (SELECT max(chord) FROM walked) END AS chord
), live AS (
  SELECT v.id, v.live_lat AS lat, v.live_lng AS lng, true AS live, %(tier)s AS tier
    FROM {volunteer} v, horizon h
   WHERE v.live_lat IS NOT NULL AND v.live_lng IS NOT NULL
     AND earth_box(ll_to_earth(%(lat)s, %(lng)s), coalesce(h.chord, 0) * 1.001) @> ll_to_earth(v.live_lat, v.live_lng)
     AND v.live_at >= %(fresh)s AND {matchable}
     AND v.id IN (SELECT vb.volunteer_id FROM {vb} vb WHERE vb.branch_id = ANY(%(branches)s::bigint[]))
     AND {filters_live}
), near AS (
  SELECT id, lat, lng, live, tier FROM base
  UNION ALL
  SELECT id, lat, lng, live, tier FROM live
)"""

_MEMBERS = """near AS (
  SELECT w.id, w.lat, w.lng, w.live, w.tier FROM (
      SELECT v.id,
             CASE WHEN {stale} THEN v.base_lat ELSE v.live_lat END AS lat,
             CASE WHEN {stale} THEN v.base_lng ELSE v.live_lng END AS lng,
             NOT {stale} AS live, v.service_radius_km, v.capacity, {tier} AS tier
        FROM {volunteer} v
       WHERE v.id IN (SELECT vb.volunteer_id FROM {vb} vb WHERE vb.branch_id = ANY(%(branches)s::bigint[]))
         AND {matchable}) w
   WHERE w.tier IS NOT NULL AND {filters}
)"""

_RANKED = """
WITH {ctes}, picked AS (
  SELECT near.*, earth_distance(ll_to_earth(near.lat, near.lng), ll_to_earth(%(lat)s, %(lng)s)) AS dist
    FROM near ORDER BY tier, dist, id LIMIT {pool}
)
SELECT p.id, v.user_id, p.lat, p.lng, p.live, p.tier, v.service_radius_km, v.capacity, v.on_duty, v.availability,
       ARRAY(SELECT vs.skill_id FROM {vs} vs WHERE vs.volunteer_id = p.id AND vs.skill_id = ANY(%(skills)s::bigint[])),
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
 ORDER BY p.tier, p.dist, p.id
"""


def _sql_tuple(values: Iterable[str]) -> str:
    # Constants from our own code (status names), never user input.
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _ranked_sql(ctes: str, *, pool: int, walk: int) -> str:
    """The statement's text. The limits are part of it (ints, never user text) so that the
    one generic plan per text is planned with the real row counts."""
    names = {
        "pool": int(pool),
        "walk": int(walk),
        "max_radius": float(MAX_RADIUS_M),
        "volunteer": Volunteer._meta.db_table,
        "vb": Volunteer.branches.through._meta.db_table,
        "vs": Volunteer.skills.through._meta.db_table,
        "offer": Offer._meta.db_table,
        "order_t": Order._meta.db_table,
        "rating": Rating._meta.db_table,
        "held": _sql_tuple(HELD_STATUSES),
        "finished": _sql_tuple(FINISHED_STATUSES),
        "stale": _STALE,
    }
    names["tier"] = _TIER.format(**names)
    names["matchable"] = _MATCHABLE.format(**names)
    names["filters"] = _FILTERS.format(a="w", loc="w.lat, w.lng", **names)
    names["filters_live"] = _FILTERS.format(a="v", loc="v.live_lat, v.live_lng", **names)
    return _RANKED.format(ctes=ctes.format(**names), **names)


_SQL: dict[tuple[str, int], str] = {}  # (way, pool) → statement text


def _execute_prepared(sql: str, params: dict) -> list[tuple]:
    """Run on Django's connection (same transaction) as a server-side prepared statement
    with a generic plan.

    Django's psycopg cursors bind on the client, so PostgreSQL would plan this statement
    anew on every call, which costs more than running it (1-7 ms against ~1 ms). Prepared,
    it is planned once per connection; the generic plan is the same walk for every order
    (custom plans would be re-made each time because their estimates look cheaper)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's statement preparation off (None); a huge threshold turns it
        # back on for explicit `prepare=True` only, so nothing else gets prepared, and the
        # plan-cache mode only concerns prepared statements: Django's own queries are not.
        raw.prepare_threshold = 2**31 - 1
        with raw.cursor() as setup:
            setup.execute("SET plan_cache_mode = force_generic_plan")
    with psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()


def _search_postgres(
    query: Search, way: str, branch_ids: list[int], exclude: Collection[int], tier: int = 0
) -> list[Candidate]:
    key = (way, query.pool)
    if key not in _SQL:
        _SQL[key] = _ranked_sql(
            _MEMBERS if way == "members" else _WALK, pool=query.pool, walk=max(WALK_LIMIT, query.pool)
        )
    tiers = [list(t) for t in query.tiers] + [[], []]
    params = {
        "lat": query.lat,
        "lng": query.lng,
        "requester": query.requester_user_id,
        "exclude": list(exclude),
        "branches": branch_ids,
        "t0": tiers[0],
        "t1": tiers[1],
        "skills": list(query.skill_ids),
        "order": query.order_id,
        "fresh": query.now - LIVE_FRESH,
        "recent": query.now - RECENT,
        "tier": tier,
    }
    rows = _execute_prepared(_SQL[key], params)
    found = []
    for row in rows:
        (vid, uid, lat, lng, live, tier, radius_km, capacity, on_duty, availability, skills, held, recent,
         finished, dropped, n_ratings, rating_total) = row  # fmt: skip
        found.append(
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
                tier=tier,
                recent_orders=recent or 0,
                finished=finished or 0,
                dropped=dropped or 0,
                rating_count=n_ratings or 0,
                rating_sum=float(rating_total or 0),
            )
        )
    return found


# --- portable: a growing bounding box on B-tree indexes ------------------------------------

FIRST_BOX_M = 2_000.0


def _box(lat: float, lng: float, half_m: float) -> tuple[float, float, float, float]:
    dlat = half_m / 111_320.0
    dlng = half_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


def _search_portable(query: Search) -> list[Candidate]:
    fresh = query.now - LIVE_FRESH
    tier_of: dict[int, int] = {}
    for tier, branch_ids in reversed(list(enumerate(query.tiers))):
        tier_of.update(dict.fromkeys(branch_ids, tier))
    declined = Offer.objects.filter(order_id=query.order_id, status__in=DROPPED_OFFERS).values("volunteer_id")
    in_scope = Volunteer.branches.through.objects.filter(branch_id__in=list(tier_of)).values("volunteer_id")
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
            if llat is not None and llng is not None and lat_at is not None and lat_at >= fresh:
                lat, lng, live = llat, llng, True
            else:
                lat, lng, live = blat, blng, False
            d = distance_m(query.lat, query.lng, lat, lng)
            # Inside the box's inscribed circle: nothing outside the box can be nearer.
            if d <= radius_km * 1000.0 and d <= half:
                near.append((d, vid, uid, lat, lng, live, radius_km, capacity, on_duty, availability))
        if len(near) >= query.pool or half >= MAX_RADIUS_M:
            break
        half *= 4
    stats = _stats([row[1] for row in near], since=query.now - RECENT, skill_ids=query.skill_ids)
    found = []
    for d, vid, uid, lat, lng, live, radius_km, capacity, on_duty, availability in near:
        s = stats[vid]
        best = min((tier_of[b] for b in s["branches"] if b in tier_of), default=None)
        if s["held"] >= capacity or best is None:
            continue
        candidate = Candidate(
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
            tier=best,
            recent_orders=s["recent"],
            finished=s["finished"],
            dropped=s["dropped"],
            rating_count=s["n_ratings"],
            rating_sum=float(s["rating_total"]),
        )
        found.append((best, d, vid, candidate))
    found.sort(key=lambda row: row[:3])
    return [row[3] for row in found[: query.pool]]


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
