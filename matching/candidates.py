"""Candidate retrieval: the volunteers near an order, with the facts the ranking needs.

Never a scan of all volunteers:
- PostgreSQL: one statement per search, which either walks a GiST index nearest-first
  (`ll_to_earth(...)` of the `cube` and `earthdistance` extensions that ship with
  PostgreSQL; volunteers migration 0004) or starts from the scope's memberships (B-tree on
  branch_id) when the scope has few members. Either way the same statement applies every
  hard filter SQL can check, and reads load, record and rating from the volunteer's record
  row (`VolunteerRecord`, kept by the lifecycle), so no volunteer's history is aggregated.
- Elsewhere (SQLite, the embedded default): a bounding box that grows fourfold until it
  holds enough volunteers, on B-tree indexes over (base_lat, base_lng) and
  (live_lat, live_lng), then the records of the candidate ids.

Where a volunteer is: the live location streamed by their on-duty phone while it is fresh
(`LIVE_FRESH`), else their base. The index is over "live position if any, else base"; the
worker clears live positions once they are stale (`volunteer_expire_live_locations`), and
until it has, the statement measures a stale volunteer from their base anyway. Results come
scope tier first (own branch, community, street), nearest first within a tier. The ranking
(`matching.ranking`) re-checks every filter: the SQL only keeps the pool small.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q

from core.geo import distance_m
from matching.ranking import Candidate, Slot
from orders.models import Offer, Order
from volunteers.models import Volunteer, VolunteerRecord
from volunteers.services import LIVE_FRESH

# Orders a volunteer got within this period count against fairness.
RECENT = timedelta(days=30)
# No service radius is larger (Volunteer.service_radius_km validator).
MAX_RADIUS_M = 50_000.0
# A walk looks at no more than this many volunteers per location kind (base, live).
WALK_LIMIT = 1_500
# Scopes with at most this many members are read through their memberships.
MEMBERS_FIRST_MAX = 500

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
#
# Distances in the statement are equirectangular at the pair's mean latitude: plain
# arithmetic, within a few metres of the great circle at the 50 km of the largest radius
# (earth_distance() per row cost more than the rest of the filters together). The range
# filter keeps a 0.1 % margin; the ranking measures again exactly.

_TIER = """(SELECT min(CASE WHEN vb.branch_id = ANY(%(t0)s::bigint[]) THEN 0
                         WHEN vb.branch_id = ANY(%(t1)s::bigint[]) THEN 1 ELSE 2 END)
             FROM {vb} vb WHERE vb.volunteer_id = v.id AND vb.branch_id = ANY(%(branches)s::bigint[]))"""

_MATCHABLE = """(v.on_duty OR v.availability <> '{{}}'::jsonb)
         AND v.user_id <> %(requester)s
         AND NOT (v.id = ANY(%(exclude)s::bigint[]))"""

# A volunteer row `v` with `live` (is its live location fresh?) → the facts the later steps
# need, with where the volunteer is now.
_LIVE = "(v.live_at >= %(fresh)s AND v.live_lat IS NOT NULL AND v.live_lng IS NOT NULL)"
_LOCATED = """v.id, v.user_id, v.service_radius_km, v.capacity, v.on_duty, v.availability, v.live,
         CASE WHEN v.live THEN v.live_lat ELSE v.base_lat END AS lat,
         CASE WHEN v.live THEN v.live_lng ELSE v.base_lng END AS lng"""

_DIST = """sqrt(power((c.lat - %(lat)s) * 111319.49, 2)
                + power((c.lng - %(lng)s) * 111319.49 * cos(radians((c.lat + %(lat)s) / 2)), 2))"""

# Every hard filter SQL can check, on a located row `c` joined to its record `r`.
_FILTERS = """{dist} <= c.service_radius_km * 1001
     AND coalesce(r.held, 0) < c.capacity
     AND NOT (c.id = ANY(ARRAY(SELECT f.volunteer_id FROM {offer} f
                                WHERE f.order_id = %(order)s AND f.status IN ('declined', 'expired'))))"""

_WALK = """near AS (
  SELECT c.*, %(tier)s AS tier, {dist} AS dist,
         r.held, r.finished, r.dropped, r.rating_count, r.rating_sum
    FROM (SELECT {located}
            FROM (SELECT v.*, {live} AS live FROM {volunteer} v
                   WHERE {matchable}
                   ORDER BY ll_to_earth(coalesce(v.live_lat, v.base_lat), coalesce(v.live_lng, v.base_lng))
                            <-> %(point)s::cube
                   LIMIT {walk}) v) c
    LEFT JOIN {record} r ON r.volunteer_id = c.id
   WHERE {filters}
     -- One index-only probe per walked row. (As EXISTS or IN, the planner turns it into a
     -- join that first reads every member of the scope.)
     AND ARRAY(SELECT vb.branch_id FROM {vb} vb WHERE vb.volunteer_id = c.id) && %(branches)s::bigint[]
   LIMIT {pool}
)"""

_MEMBERS = """near AS (
  SELECT c.*, {dist} AS dist, r.held, r.finished, r.dropped, r.rating_count, r.rating_sum
    FROM (SELECT {located}, v.tier
            FROM (SELECT v.*, {live} AS live, {tier} AS tier FROM {volunteer} v
                   WHERE v.id IN (SELECT vb.volunteer_id FROM {vb} vb WHERE vb.branch_id = ANY(%(branches)s::bigint[]))
                     AND {matchable}) v) c
    LEFT JOIN {record} r ON r.volunteer_id = c.id
   WHERE c.tier IS NOT NULL AND {filters}
)"""

# Per picked row: skills, load from the record, orders of the last weeks (counted as an array's
# length: an aggregate re-initialised per row cost twice as much), the rest of the record.
_RANKED = """
WITH {near}
SELECT n.id, n.user_id, n.lat, n.lng, n.live, n.tier, n.service_radius_km, n.capacity, n.on_duty, n.availability,
       {skills},
       coalesce(n.held, 0),
       cardinality(ARRAY(SELECT 1 FROM {order_t} o WHERE o.volunteer_id = n.id AND o.claimed_at >= %(recent)s)),
       coalesce(n.finished, 0), coalesce(n.dropped, 0), coalesce(n.rating_count, 0), coalesce(n.rating_sum, 0)
  FROM (SELECT * FROM near ORDER BY tier, dist, id LIMIT {pool}) n
 ORDER BY n.tier, n.dist, n.id
"""

# The category's skills each volunteer has; a category that asks for none skips the lookup.
_SKILLS = """ARRAY(SELECT vs.skill_id FROM {vs} vs
                   WHERE vs.volunteer_id = n.id AND vs.skill_id = ANY(%(skills)s::bigint[]))"""
_NO_SKILLS = "'{{}}'::bigint[]"


def _ranked_sql(way: str, *, pool: int, walk: int, skills: bool) -> str:
    """The statement's text. The limits are part of it (ints, never user text) so that the
    one generic plan per text is planned with the real row counts."""
    names: dict[str, object] = {
        "pool": int(pool),
        "walk": int(walk),
        "volunteer": Volunteer._meta.db_table,
        "record": VolunteerRecord._meta.db_table,
        "vb": Volunteer.branches.through._meta.db_table,
        "vs": Volunteer.skills.through._meta.db_table,
        "offer": Offer._meta.db_table,
        "order_t": Order._meta.db_table,
        "live": _LIVE,
        "located": _LOCATED,
        "dist": _DIST,
    }
    names["tier"] = _TIER.format(**names)
    names["matchable"] = _MATCHABLE.format(**names)
    names["filters"] = _FILTERS.format(**names)
    names["skills"] = (_SKILLS if skills else _NO_SKILLS).format(**names)
    names["near"] = (_MEMBERS if way == "members" else _WALK).format(**names)
    return _RANKED.format(**names)


_SQL: dict[tuple[str, int, bool], str] = {}  # (way, pool, skills) → statement text


def _execute_prepared(sql: str, params: dict) -> list[tuple]:
    """Run on Django's connection (same transaction) as a server-side prepared statement
    with a generic plan.

    Django's psycopg cursors bind on the client, so PostgreSQL would plan this statement
    anew on every call, which costs more than running it (1-7 ms against ~1 ms). Prepared,
    it is planned once per connection; the generic plan is the same walk for every order
    (custom plans would be re-made each time because their estimates look cheaper)."""
    connection.ensure_connection()
    raw = connection.connection
    if not settings.DB_PREPARE_STATEMENTS:
        # Behind PgBouncer in transaction mode (DB_PREPARE_THRESHOLD=0) the next transaction may
        # run on another server connection, where the statement does not exist (the cluster
        # scenario's timers failed on it: docs/scaling.md), and a session SET would leak to
        # other clients: bound on the client, planned each time.
        with psycopg.ClientCursor(raw) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    if raw.prepare_threshold is None:
        # Django turns psycopg's statement preparation off (None) unless DB_PREPARE_THRESHOLD
        # sets it; a huge threshold turns it back on for explicit `prepare=True` only.
        raw.prepare_threshold = 2**31 - 1
    # The generic plan for this statement alone: PostgreSQL reads plan_cache_mode at each
    # execution, so it is set around this one, in the same round trip (a pipeline). Set for
    # the whole session, it would also force generic plans on Django's own statements, which
    # settings.py has PostgreSQL prepare too; not set at all, PostgreSQL planned this
    # statement anew on every call (pg_prepared_statements: 400 custom plans, 0 generic, for
    # 400 calls), and the matcher ÷ floor ratio went from 2.3–2.6× to 3.7–4.7×.
    with psycopg.Cursor(raw) as cursor, psycopg.Cursor(raw) as mode:
        with raw.pipeline():
            mode.execute("SET plan_cache_mode = force_generic_plan")
            cursor.execute(sql, params, prepare=True)
            mode.execute("RESET plan_cache_mode")
        return cursor.fetchall()


# earthdistance's earth(): the radius ll_to_earth() uses.
EARTH_M = 6_378_168.0


def earth_point(lat: float, lng: float) -> str:
    """`ll_to_earth(lat, lng)` as a cube literal, computed here: in a prepared statement's
    generic plan PostgreSQL would run that SQL function (and plan its body) on every call."""
    la, lo = math.radians(lat), math.radians(lng)
    x, y, z = EARTH_M * math.cos(la) * math.cos(lo), EARTH_M * math.cos(la) * math.sin(lo), EARTH_M * math.sin(la)
    return f"({x!r}, {y!r}, {z!r})"


def _ids(values: Iterable[int]) -> str:
    """Ids as an array literal (the statement casts it to bigint[]): psycopg adapts a Python
    list element by element, which cost more than the rest of the call's Python (~80 µs)."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"


def _search_postgres(
    query: Search, way: str, branch_ids: list[int], exclude: Collection[int], tier: int = 0
) -> list[Candidate]:
    key = (way, query.pool, bool(query.skill_ids))
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = _ranked_sql(way, pool=query.pool, walk=max(WALK_LIMIT, query.pool), skills=key[2])
    tiers = [*query.tiers, (), ()]
    params = {
        "lat": query.lat,
        "lng": query.lng,
        "point": earth_point(query.lat, query.lng),
        "requester": query.requester_user_id,
        "exclude": _ids(exclude),
        "branches": _ids(branch_ids),
        "t0": _ids(tiers[0]),
        "t1": _ids(tiers[1]),
        "order": query.order_id,
        "fresh": query.now - LIVE_FRESH,
        "recent": query.now - RECENT,
        "tier": tier,
    }
    if key[2]:
        params["skills"] = _ids(query.skill_ids)
    # The statement orders by its own (earthdistance) measure; the ranking gets the one
    # definition of a distance, measured here for the few rows picked.
    return [
        _candidate(*row, distance=distance_m(query.lat, query.lng, row[2], row[3]))
        for row in _execute_prepared(sql, params)
    ]


def _candidate(
    vid: int, uid: int, lat: float, lng: float, live: bool, tier: int, radius_km: float, capacity: int,
    on_duty: bool, availability: object, skills: list[int], held: int, recent: int, finished: int,
    dropped: int, rating_count: int, rating_sum: int, *, distance: float,
) -> Candidate:  # fmt: skip
    return Candidate(
        volunteer_id=vid,
        user_id=uid,
        lat=lat,
        lng=lng,
        radius_m=radius_km * 1000.0,
        capacity=capacity,
        held=held,
        on_duty=on_duty,
        live=live,
        availability=parse_availability(availability) if not on_duty else (),
        skills=frozenset(skills),
        tier=tier,
        recent_orders=recent,
        finished=finished,
        dropped=dropped,
        rating_count=rating_count,
        rating_sum=float(rating_sum),
        distance_m=distance,
    )


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
        candidate = _candidate(
            vid, uid, lat, lng, live, best, radius_km, capacity, on_duty, availability, s["skills"], s["held"],
            s["recent"], s["finished"], s["dropped"], s["n_ratings"], s["rating_total"], distance=d,
        )  # fmt: skip
        found.append((best, d, vid, candidate))
    found.sort(key=lambda row: row[:3])
    return [row[3] for row in found[: query.pool]]


def _stats(ids: list[int], *, since: datetime, skill_ids: Collection[int]) -> dict[int, dict]:
    """Load, record and rating of the given volunteers (their record rows), recent orders,
    skills and branches: one query each."""
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
    records = VolunteerRecord.objects.filter(pk__in=ids).values_list(
        "volunteer_id", "held", "finished", "dropped", "rating_count", "rating_sum"
    )
    for vid, held, finished, dropped, n_ratings, rating_total in records:
        stats[vid].update(held=held, finished=finished, dropped=dropped, n_ratings=n_ratings, rating_total=rating_total)
    recent = (
        Order.objects.filter(volunteer_id__in=ids, claimed_at__gte=since)
        .order_by()
        .values("volunteer_id")
        .annotate(n=Count("id"))
    )
    for row in recent:
        stats[row["volunteer_id"]]["recent"] = row["n"]
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
