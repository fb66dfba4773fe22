"""Benchmark of the matcher (not a test): prints figures, asserts nothing.

    .venv/bin/python bench/matching.py [--sizes 10000,100000,1000000] [--queries 200] [--passes 3]

Into a dedicated PostgreSQL database (`sandan_bench_matching` on the DATABASE_URL server,
created and migrated if missing) it loads a synthetic city of 40 × 40 km: 100 streets →
400 communities → 1,600 grids of 1 km², one territorial branch per grid, and volunteers
spread uniformly (half on duty, a tenth with a fresh live location, 1-3 capacity, 1-5 km
radius, a record of past orders and ratings). Volunteers are added with COPY up to each
size in turn, so the 10^6 step loads only the last 900,000; after each load the volunteer
records are recounted (`volunteer_records_recount`, as after any import) and stale live
positions forgotten (`volunteer_expire_live_locations`, as the worker does every tick).

At each size, for the same random orders, side by side (each order through the matcher and
the floor one right after the other, `--passes` times):
- matcher: `matching.services.rank_for_order(order, limit=10)`, the project's full path
  (scope tiers, hard filters, records, pure ranking with reasons);
- floor: raw SQL KNN on the GiST index the matcher walks, `ORDER BY ll_to_earth(...) <-> ...
  LIMIT 10` over on-duty volunteers, nothing else;
- naive: every volunteer fetched and scanned in Python (fewer repetitions: it is slow).
Then batch: 200 orders over the 2,000 volunteers nearest a point, the score matrix from
the pure ranking, `matching.batch.propose` timed against the greedy baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_MATCHING_DB", "sandan_bench_matching")  # one per size kept side by side
CITY_LAT, CITY_LNG = 31.05, 121.25  # south-west corner
KM_LAT = 1 / 111.32
KM_LNG = 1 / (111.32 * math.cos(math.radians(31.23)))
SIDE_KM = 40


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    return url.rsplit("/", 1)[0]


def _ensure_database(*, fresh: bool) -> None:
    import psycopg

    with psycopg.connect(_server_url() + "/postgres", autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{_server_url()}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.pop("REDIS_URL", None)  # in-process cache: measure the matcher, not a network hop
    # As in production: with DEBUG on, Django would record every query the floor runs.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"  {name:<8} n={len(ms):<4} p50={pct(ms, 0.5):8.3f} ms  p95={pct(ms, 0.95):8.3f} ms  "
        f"p99={pct(ms, 0.99):8.3f} ms  mean={statistics.fmean(ms):8.3f} ms"
    )


# --- the synthetic city ----------------------------------------------------------------------


def build_city() -> dict[tuple[int, int], int]:
    """Areas and branches (once); returns {(grid x, grid y): branch id}."""
    from volunteers.models import Area, Branch

    branches = {}
    if Branch.objects.filter(name__startswith="bench-grid-").exists():
        for b in Branch.objects.filter(name__startswith="bench-grid-"):
            x, y = map(int, b.name.removeprefix("bench-grid-").split("-"))
            branches[(x, y)] = b.pk
        return branches

    def centre(x0: float, y0: float, size: float) -> tuple[float, float]:
        return CITY_LAT + (y0 + size / 2) * KM_LAT, CITY_LNG + (x0 + size / 2) * KM_LNG

    for sx in range(0, SIDE_KM, 4):
        for sy in range(0, SIDE_KM, 4):
            lat, lng = centre(sx, sy, 4)
            street = Area.objects.create(name=f"bench-street-{sx}-{sy}", level="street", center_lat=lat, center_lng=lng)
            for cx in (sx, sx + 2):
                for cy in (sy, sy + 2):
                    lat, lng = centre(cx, cy, 2)
                    community = Area.objects.create(
                        name=f"bench-community-{cx}-{cy}",
                        level="community",
                        parent=street,
                        center_lat=lat,
                        center_lng=lng,
                    )
                    for gx in (cx, cx + 1):
                        for gy in (cy, cy + 1):
                            lat, lng = centre(gx, gy, 1)
                            grid = Area.objects.create(
                                name=f"bench-grid-{gx}-{gy}",
                                level="grid",
                                parent=community,
                                center_lat=lat,
                                center_lng=lng,
                            )
                            branch = Branch.objects.create(name=f"bench-grid-{gx}-{gy}", area=grid)
                            branches[(gx, gy)] = branch.pk
    return branches


def _row_defaults(model, overrides: dict) -> tuple[list[str], list]:
    """Columns and values for a COPY row: our values, else each field's default, so that a
    field someone adds later with a default does not break the loader."""
    from django.utils import timezone

    cols, values = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key and f.attname not in overrides:
            continue
        if f.attname in overrides:
            value = overrides[f.attname]
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = timezone.now()
        elif f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        else:
            value = "" if f.get_internal_type() in {"CharField", "TextField", "SlugField", "EmailField"} else None
        if isinstance(value, dict | list):
            value = json.dumps(value)
        cols.append(f.column)
        values.append(value)
    return cols, values


def _copy(model, rows: list[dict]) -> None:
    from django.db import connection

    if not rows:
        return
    cols, _ = _row_defaults(model, rows[0])
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {model._meta.db_table} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_row_defaults(model, row)[1])


def _copy_fast(table: str, cols: list[str], rows) -> None:
    from django.db import connection

    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _next_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def _bump_sequence(table: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def load_volunteers(count: int, branches: dict[tuple[int, int], int], rng: random.Random) -> float:
    """COPY `count` more volunteers (with users, memberships, past orders and ratings)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from orders.models import Category, Order, Rating
    from orders.records import volunteer_records_recount
    from volunteers.models import Volunteer
    from volunteers.services import volunteer_expire_live_locations

    User = get_user_model()
    started = time.perf_counter()
    now = timezone.now()
    resident = User.objects.get_or_create(username="bench-resident")[0]
    category = Category.objects.order_by("id").first()
    with transaction.atomic():
        uid0, vid0, oid0 = (
            _next_id(User._meta.db_table),
            _next_id(Volunteer._meta.db_table),
            _next_id(Order._meta.db_table),
        )
        # Users: the generic row for the first, then the same columns with new names.
        user_cols, user_template = _row_defaults(User, {"id": uid0, "username": "x", "password": "!"})
        iu, iname = user_cols.index("id"), user_cols.index("username")

        def users():
            for i in range(count):
                row = list(user_template)
                row[iu], row[iname] = uid0 + i, f"bench-v-{uid0 + i}"
                yield row

        _copy_fast(User._meta.db_table, user_cols, users())
        vol_cols, vol_template = _row_defaults(
            Volunteer,
            {"id": vid0, "user_id": uid0, "base_lat": 0.0, "base_lng": 0.0, "on_duty": True, "capacity": 2,
             "service_radius_km": 3.0, "live_lat": None, "live_lng": None, "live_at": None},
        )  # fmt: skip
        idx = {c: vol_cols.index(c) for c in ("id", "user_id", "base_lat", "base_lng", "on_duty", "capacity",
                                              "service_radius_km", "live_lat", "live_lng", "live_at")}  # fmt: skip
        memberships = []
        placed = []

        def volunteers():
            for i in range(count):
                x, y = rng.uniform(0, SIDE_KM), rng.uniform(0, SIDE_KM)
                lat, lng = CITY_LAT + y * KM_LAT, CITY_LNG + x * KM_LNG
                row = list(vol_template)
                on_duty = rng.random() < 0.5
                row[idx["id"]], row[idx["user_id"]] = vid0 + i, uid0 + i
                row[idx["base_lat"]], row[idx["base_lng"]] = lat, lng
                row[idx["on_duty"]] = on_duty
                row[idx["capacity"]] = rng.randint(1, 3)
                row[idx["service_radius_km"]] = rng.choice([1.0, 2.0, 3.0, 3.0, 5.0])
                if on_duty and rng.random() < 0.2:
                    row[idx["live_lat"]] = lat + rng.uniform(-0.005, 0.005)
                    row[idx["live_lng"]] = lng + rng.uniform(-0.005, 0.005)
                    row[idx["live_at"]] = now - timedelta(minutes=rng.uniform(0, 20))
                memberships.append((vid0 + i, branches[(min(int(x), SIDE_KM - 1), min(int(y), SIDE_KM - 1))]))
                placed.append((vid0 + i, lat, lng))
                yield row

        _copy_fast(Volunteer._meta.db_table, vol_cols, volunteers())
        _copy_fast(Volunteer.branches.through._meta.db_table, ["volunteer_id", "branch_id"], memberships)
        # A record: one past order per five volunteers (closed and rated, some held right now).
        orders, ratings = [], []
        for n, (vid, lat, lng) in enumerate(rng.sample(placed, count // 5)):
            held = n % 10 == 0
            orders.append(
                {"id": oid0 + n, "resident_id": resident.pk, "category_id": category.pk, "description": "bench",
                 "lat": lat, "lng": lng, "branch_id": memberships[vid - vid0][1], "volunteer_id": vid,
                 "status": "claimed" if held else "closed", "claimed_at": now - timedelta(days=rng.uniform(0, 60))}
            )  # fmt: skip
            if not held:
                ratings.append({"order_id": oid0 + n, "volunteer_id": vid, "rating": rng.randint(3, 5)})
        _copy(Order, orders)
        _copy(Rating, ratings)
        for table in (User._meta.db_table, Volunteer._meta.db_table, Order._meta.db_table, Rating._meta.db_table):
            _bump_sequence(table)
        # History COPYed past the lifecycle: recount the records, as after any import; and
        # forget the live positions that are already stale, as the worker does every tick.
        volunteer_records_recount()
        volunteer_expire_live_locations()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would: visibility map for index-only scans
    return time.perf_counter() - started


def make_orders(
    n: int, branches: dict[tuple[int, int], int], rng: random.Random, *, box_km: float = SIDE_KM, corner_km: float = 0
):
    """`n` accepted orders at random places in a square (the whole city by default)."""
    from django.contrib.auth import get_user_model

    from orders.models import Category, Order

    resident = get_user_model().objects.get_or_create(username="bench-resident")[0]
    category = Category.objects.order_by("id").first()
    made = []
    for _ in range(n):
        x, y = corner_km + rng.uniform(0, box_km), corner_km + rng.uniform(0, box_km)
        made.append(
            Order(
                resident=resident,
                category=category,
                description="bench",
                lat=CITY_LAT + y * KM_LAT,
                lng=CITY_LNG + x * KM_LNG,
                branch_id=branches[(int(x), int(y))],
                status="accepted",
            )
        )
    created = Order.objects.bulk_create(made)
    return list(Order.objects.select_related("branch__area", "category").filter(pk__in=[o.pk for o in created]))


# --- the three ways to get ten candidates -------------------------------------------------------

# The same GiST index the matcher walks (live position while there is one, else base).
FLOOR_SQL = """
SELECT id FROM volunteers_volunteer WHERE on_duty
 ORDER BY ll_to_earth(coalesce(live_lat, base_lat), coalesce(live_lng, base_lng)) <-> ll_to_earth(%s, %s) LIMIT 10
"""


def time_side_by_side(orders, passes: int) -> tuple[list[float], list[float], list[int]]:
    """The matcher and the floor for the same order one right after the other (which goes
    first alternates), `passes` times over the orders: both see the same machine load, so
    their ratio holds even on a busy machine."""
    from django.db import connection

    from matching.services import rank_for_order

    matcher, floor, found = [], [], []
    with connection.cursor() as cursor:

        def run_floor(order) -> None:
            t = time.perf_counter()
            cursor.execute(FLOOR_SQL, [order.lat, order.lng])
            cursor.fetchall()
            floor.append(time.perf_counter() - t)

        def run_matcher(order) -> None:
            t = time.perf_counter()
            ranked = rank_for_order(order, limit=10)
            matcher.append(time.perf_counter() - t)
            found.append(len(ranked))

        for n in range(passes):
            for i, order in enumerate(orders):
                first, second = (run_matcher, run_floor) if (i + n) % 2 == 0 else (run_floor, run_matcher)
                first(order)
                second(order)
    return matcher, floor, found


def time_cold(orders) -> list[float]:
    from matching.services import forget_cached, rank_for_order

    forget_cached()
    seconds = []
    for order in orders:
        t = time.perf_counter()
        rank_for_order(order, limit=10)
        seconds.append(time.perf_counter() - t)
    return seconds


def time_naive(orders) -> list[float]:
    """What an app without a spatial index does: fetch everyone, measure, sort."""
    from core.geo import distance_m
    from volunteers.models import Volunteer

    seconds = []
    for order in orders:
        t = time.perf_counter()
        rows = Volunteer.objects.filter(on_duty=True).values_list("id", "base_lat", "base_lng", "service_radius_km")
        near = []
        for vid, lat, lng, radius in rows.iterator(chunk_size=20_000):
            d = distance_m(order.lat, order.lng, lat, lng)
            if d <= radius * 1000:
                near.append((d, vid))
        near.sort()
        seconds.append(time.perf_counter() - t)
    return seconds


def bench_size(size: int, orders, repeats_naive: int, passes: int) -> None:
    cold = time_cold(orders)  # first sight of each branch: its scope is computed and memoised
    matcher, floor, found = time_side_by_side(orders, passes)
    naive = time_naive(orders[:repeats_naive])
    print(f"\n{size:,} volunteers — top-10 candidates for one order ({len(orders)} orders × {passes} passes)")
    print(summary("matcher", matcher))
    print(summary("floor", floor))
    print(summary("naive", naive))
    print(summary("cold", cold) + "   (matcher, first order of each branch: scope not memoised yet)")
    print(
        f"  matcher/floor: p50 {pct(matcher, 0.5) / pct(floor, 0.5):.2f}×"
        f"  p95 {pct(matcher, 0.95) / pct(floor, 0.95):.2f}×"
        f"   naive/matcher p50: {pct(naive, 0.5) / pct(matcher, 0.5):.0f}×"
        f"   rows returned: mean {statistics.fmean(found):.1f} of 10"
    )


def bench_batch(branches, rng: random.Random, n_orders: int = 200, n_volunteers: int = 2000, runs: int = 20) -> None:
    """200 orders over the 2,000 volunteers nearest the middle of a 4 km street."""
    from django.db import connection
    from django.utils import timezone

    from core.geo import distance_m
    from matching import batch, vectorized
    from matching.candidates import Search, search
    from matching.ranking import OrderFacts, Weights, rank

    orders = make_orders(n_orders, branches, rng, box_km=1.5, corner_km=1.25)
    lat, lng = CITY_LAT + 2 * KM_LAT, CITY_LNG + 2 * KM_LNG
    found = search(
        Search(order_id=0, lat=lat, lng=lng, requester_user_id=0, tiers=[list(branches.values())], skill_ids=(),
               now=timezone.now(), pool=n_volunteers, enough=n_volunteers)
    )  # fmt: skip
    pool = [replace(c, radius_m=max(c.radius_m, 3000.0)) for c in found]
    weights = Weights()
    facts = [
        OrderFacts(order_id=order.pk, lat=order.lat, lng=order.lng, requester_user_id=order.resident_id)
        for order in orders
    ]
    # Once pair by pair through the pure ranking (what the matrix used to cost), for reference.
    t = time.perf_counter()
    col = {c.volunteer_id: j for j, c in enumerate(pool)}
    pure = np.zeros((len(orders), len(pool)))
    for i, f in enumerate(facts):
        # The pure ranking takes each candidate's distance to its own order (the retrieval
        # measures it); the pool was retrieved around one point, so measure it per order.
        own = [replace(c, distance_m=distance_m(f.lat, f.lng, c.lat, c.lng)) for c in pool]
        for r in rank(f, own, weights=weights):
            pure[i, col[r.volunteer_id]] = r.score
    scoring_pure = time.perf_counter() - t
    free = np.array([c.capacity - c.held for c in pool])
    # What a secretary waits for: the scores (vectorised, matching.vectorized) and the assignment.
    score_s, assign_s, both_s, greedy_s = [], [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        scores = np.maximum(vectorized.scores(facts, pool, weights), 0.0)
        t1 = time.perf_counter()
        chosen = batch.assign(scores, free)
        t2 = time.perf_counter()
        score_s.append(t1 - t)
        assign_s.append(t2 - t1)
        both_s.append(t2 - t)
        t = time.perf_counter()
        baseline = batch.greedy_pairs(scores, free)
        greedy_s.append(time.perf_counter() - t)
    diff = np.abs(scores - pure)
    same = bool(diff.max() <= 1.0000001e-6)
    eligible_differs = int(((scores > 0) != (pure > 0)).sum())
    best, base = sum(scores[i, j] for i, j in chosen), sum(scores[i, j] for i, j in baseline)
    print(
        f"\nbatch — {len(orders)} orders over {len(pool)} volunteers "
        f"({int((scores > 0).sum()):,} eligible pairs, {int(free.sum()):,} free slots)"
    )
    print(summary("scores + assign", both_s) + "   (≤ 100 ms: the target)")
    print(summary("scores (numpy)", score_s))
    print(summary("assign", assign_s))
    print(summary("greedy", greedy_s))
    print(
        f"  total score: optimal {best:.3f} ({len(chosen)} assigned) vs greedy {base:.3f} ({len(baseline)} assigned)"
        f"; the same matrix pair by pair through the pure ranking: {scoring_pure * 1000:.0f} ms"
        f" (equal to the vectorised one within 1e-6: {same}; largest difference {diff.max():.2e},"
        f" {int((diff > 1.0000001e-6).sum())} pairs beyond 1e-6, {eligible_differs} eligible in one only)"
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM orders_order WHERE id = ANY(%s)", [[o.pk for o in orders]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passes", type=int, default=3, help="passes over the orders, matcher and floor side by side")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    _ensure_database(fresh=args.fresh)
    _setup_django()
    from django.db import connection

    from orders.models import Order
    from volunteers.models import Volunteer

    rng = random.Random(args.seed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        print(cursor.fetchone()[0].split(",")[0], f"· Python {sys.version.split()[0]} · {os.cpu_count()} cores")
    branches = build_city()
    Order.objects.filter(description="bench", status="accepted").delete()
    for size in sizes:
        have = Volunteer.objects.count()
        if have < size:
            took = load_volunteers(size - have, branches, rng)
            print(f"\nloaded {size - have:,} volunteers (+ users, memberships, past orders, ratings) in {took:.1f} s")
        elif have > size:
            print(f"\n(the database already holds {have:,} volunteers; measuring at that size)")
        orders = make_orders(args.queries, branches, rng)
        bench_size(max(have, size), orders, repeats_naive=max(3, min(20, 200_000 // size)), passes=args.passes)
        Order.objects.filter(pk__in=[o.pk for o in orders]).delete()
    bench_batch(branches, rng)


if __name__ == "__main__":
    main()
