"""Benchmark of the accountability figures (not a test): prints figures, asserts nothing.

    .venv/bin/python bench/stats.py [--orders 1000000] [--runs 30] [--reload]

Into a dedicated PostgreSQL database (`sandan_bench_stats` on the DATABASE_URL server,
created and migrated if missing) it loads with COPY a synthetic city: 10 streets → 100
communities → 1,000 grids, one branch per grid, 20,000 residents, 5,000 volunteers, and
`--orders` orders submitted uniformly over 2025 (so one street receives a tenth of them)
in a realistic mix of states (85 % closed, 90 % of those rated, 2 % reopened...).
Loading is skipped when the database already holds that many orders.

Then it times, `--runs` times each after two warm-ups:
- figures: `stats.figures.figures()` for one street over the year (the dashboard's numbers);
- series: the dashboard's per-month chart data for the same street (`stats.selectors.series`);
- branch: the figures of one branch for one month (a secretary's everyday view);
- city: the figures for the whole city over the year (ten times the street's rows);
- floor: a bare COUNT(*) of the street-year's orders, and baseline: the street figures with
  index-only scans switched off (what they cost without the covering index of
  stats/migrations/0002), both measured in the same run as ratios that survive a busy machine;
and prints p50 / p95 / p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "sandan_bench_stats"
STREETS, COMMUNITIES, GRIDS = 10, 10, 10  # per parent
RESIDENTS, VOLUNTEERS = 20_000, 5_000
YEAR_START = datetime(2024, 12, 31, 16, 0, tzinfo=UTC)  # 2025-01-01 00:00 in Shanghai


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    return url.rsplit("/", 1)[0]


def _ensure_database() -> None:
    import psycopg

    with psycopg.connect(_server_url() + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{_server_url()}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    """COPY rows (tuples) into table, in chunks of text."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buf = io.StringIO()
        for n, row in enumerate(rows, 1):
            buf.write("\t".join("\\N" if v is None else str(v) for v in row))
            buf.write("\n")
            if n % 50_000 == 0:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def _ts(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


def load(n_orders: int) -> None:
    from importlib import import_module

    backfill = import_module("stats.migrations.0003_rated_order").BACKFILL
    from django.db import connection

    from orders.models import Category

    rng = random.Random(7)
    with connection.cursor() as c:
        c.execute(
            "TRUNCATE orders_rating, orders_orderevent, orders_offer, orders_order, volunteers_volunteer_branches, "
            "volunteers_volunteer, volunteers_branch, volunteers_area, accounts_user, stats_ratedorder CASCADE"
        )
    raw = connection.connection
    now = datetime.now(UTC).isoformat()
    with raw.cursor() as cur:
        # Areas: ids 1..10 streets, 11..110 communities, 111..1110 grids.
        areas = []
        aid = 0
        streets, communities, grids = [], [], []
        for s in range(STREETS):
            aid += 1
            streets.append(aid)
            areas.append((aid, f"Street {s}", "street", None, 31.2, 121.4))
        for s in streets:
            for k in range(COMMUNITIES):
                aid += 1
                communities.append((aid, s))
                areas.append((aid, f"Community {s}-{k}", "community", s, 31.2, 121.4))
        for cid, _s in communities:
            for g in range(GRIDS):
                aid += 1
                grids.append(aid)
                areas.append((aid, f"Grid {cid}-{g}", "grid", cid, 31.2 + g * 0.001, 121.4))
        _copy(cur, "volunteers_area", ["id", "name", "level", "parent_id", "center_lat", "center_lng"], areas)
        branches = [(i + 1, f"Branch {g}", g, "territorial", "{}", "{}") for i, g in enumerate(grids)]
        _copy(cur, "volunteers_branch", ["id", "name", "area_id", "kind", "matching_weights", "sla"], branches)
        users = [
            (u, "!", f"u{u}", "", "", "", False, True, False, now, "") for u in range(1, RESIDENTS + VOLUNTEERS + 1)
        ]
        _copy(
            cur,
            "accounts_user",
            [
                "id",
                "password",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_superuser",
                "is_active",
                "is_staff",
                "date_joined",
                "display_name",
            ],
            users,
        )
        vols = [(v, RESIDENTS + v, 31.2, 121.4, 3.0, 2, True, "{}", now) for v in range(1, VOLUNTEERS + 1)]
        _copy(
            cur,
            "volunteers_volunteer",
            [
                "id",
                "user_id",
                "base_lat",
                "base_lng",
                "service_radius_km",
                "capacity",
                "on_duty",
                "availability",
                "created_at",
            ],
            vols,
        )
        # Volunteer v belongs to the branches of 5 neighbouring grids; orders pick from those.
        n_branches = len(branches)
        members = [(v, (v * 5 // 25 + k) % n_branches + 1) for v in range(1, VOLUNTEERS + 1) for k in range(1)]
        _copy(cur, "volunteers_volunteer_branches", ["volunteer_id", "branch_id"], members)
        categories = list(Category.objects.values_list("id", flat=True))
        year_s = 365 * 86400
        states = (
            ["closed"] * 850
            + ["completed"] * 30
            + ["rejected"] * 20
            + ["cancelled"] * 30
            + ["submitted"] * 10
            + ["accepted"] * 15
            + ["dispatched"] * 15
            + ["claimed"] * 10
            + ["in_progress"] * 20
        )
        ratings = []

        def orders():
            for oid in range(1, n_orders + 1):
                created = YEAR_START + timedelta(seconds=rng.random() * year_s)
                branch = rng.randrange(1, n_branches + 1)
                status = rng.choice(states)
                reviewed = dispatched = claimed = started = completed = closed = None
                volunteer = None
                hours = None
                t = created
                if status != "submitted" and status != "cancelled":
                    t = t + timedelta(minutes=rng.expovariate(1 / 20))
                    reviewed = t
                if status in ("dispatched", "claimed", "in_progress", "completed", "closed"):
                    t = t + timedelta(minutes=rng.expovariate(1 / 10))
                    dispatched = t
                if status in ("claimed", "in_progress", "completed", "closed"):
                    t = t + timedelta(minutes=rng.expovariate(1 / 15))
                    claimed = t
                    volunteer = rng.randrange(1, VOLUNTEERS + 1)
                if status in ("in_progress", "completed", "closed"):
                    t = t + timedelta(minutes=rng.expovariate(1 / 60))
                    started = t
                if status in ("completed", "closed"):
                    t = t + timedelta(minutes=rng.expovariate(1 / 90))
                    completed = t
                    hours = round(rng.uniform(0.5, 4), 2)
                if status == "closed":
                    closed = t + timedelta(hours=rng.expovariate(1 / 24))
                    if rng.random() < 0.9:
                        stars = 5 if rng.random() < 0.9 else rng.choice([1, 2, 3, 4])
                        ratings.append((oid, volunteer, stars, "", _ts(closed)))
                reopened = 1 if status in ("closed", "completed") and rng.random() < 0.02 else 0
                yield (
                    oid,
                    rng.randrange(1, RESIDENTS + 1),
                    rng.choice(categories),
                    "Help please",
                    "",
                    31.2,
                    121.4,
                    "normal",
                    "",
                    status,
                    grids[branch - 1],
                    branch,
                    volunteer,
                    "",
                    _ts(created),
                    _ts(t),
                    _ts(reviewed),
                    _ts(dispatched),
                    _ts(claimed),
                    _ts(started),
                    _ts(completed),
                    _ts(closed),
                    hours,
                    "",
                    reopened,
                )

        t0 = time.perf_counter()
        _copy(
            cur,
            "orders_order",
            [
                "id",
                "resident_id",
                "category_id",
                "description",
                "address",
                "lat",
                "lng",
                "urgency",
                "contact_phone",
                "status",
                "grid_id",
                "branch_id",
                "volunteer_id",
                "dispatch_mode",
                "created_at",
                "updated_at",
                "reviewed_at",
                "dispatched_at",
                "claimed_at",
                "started_at",
                "completed_at",
                "closed_at",
                "hours",
                "completion_note",
                "reopen_count",
            ],
            orders(),
        )
        # One trigger call per rating would dominate the load: fill the read model in one
        # statement instead, as the migration's backfill does.
        cur.execute("ALTER TABLE orders_rating DISABLE TRIGGER stats_rating_changed")
        _copy(cur, "orders_rating", ["order_id", "volunteer_id", "rating", "comment", "created_at"], ratings)
        cur.execute(backfill)
        cur.execute("ALTER TABLE orders_rating ENABLE TRIGGER stats_rating_changed")
        print(f"loaded {n_orders:,} orders and {len(ratings):,} ratings in {time.perf_counter() - t0:.0f} s")
        for table in (
            "accounts_user",
            "volunteers_area",
            "volunteers_branch",
            "volunteers_volunteer",
            "orders_order",
            "orders_rating",
        ):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    raw.commit()
    import psycopg

    # VACUUM (for the visibility map that index-only scans need) runs outside a transaction.
    with psycopg.connect(f"{_server_url()}/{DB_NAME}", autocommit=True) as vacuum:
        vacuum.execute("VACUUM ANALYZE")


def _backend_cpu_ms(pid: int) -> float:
    """CPU time (user + system) the PostgreSQL backend has used, from /proc (same machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def timed(fn, runs: int, backend_pid: int) -> dict[str, float]:
    """Wall time percentiles, and the median CPU time per call (this process + the
    PostgreSQL backend): wall time on a shared, overloaded machine mostly measures the
    queue for a CPU; CPU time is what the figures cost whatever the load."""
    for _ in range(2):
        fn()
    samples, cpu = [], []
    for _ in range(runs):
        c0, b0 = time.process_time(), _backend_cpu_ms(backend_pid)
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000 + _backend_cpu_ms(backend_pid) - b0)
    samples.sort()
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": statistics.median(samples), "p95": q[94], "p99": q[98], "cpu": statistics.median(cpu)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    args = parser.parse_args()
    _ensure_database()
    _setup_django()
    from django.db import connection, transaction

    from orders.models import Order
    from stats.figures import Cohort, figures
    from stats.selectors import rating_totals, series
    from volunteers.models import Area, Branch
    from volunteers.selectors import descendant_ids

    if args.reload or Order.objects.count() != args.orders:
        load(args.orders)
    street = Area.objects.filter(level="street").order_by("id").first()
    street_branches = tuple(Branch.objects.filter(area_id__in=descendant_ids([street.pk])).values_list("id", flat=True))
    all_branches = tuple(Branch.objects.values_list("id", flat=True))

    def dashboard(cohort):
        # What the /stats/ page does: the series joins ratings once, the figures reuse its sums.
        rows = series(cohort, by="month")
        return figures(cohort, rating_counts=rating_totals(rows)), rows

    year = (date(2025, 1, 1), date(2025, 12, 31))
    street_year = Cohort(*year, branch_ids=street_branches)
    one_branch = Cohort(date(2025, 3, 1), date(2025, 3, 31), branch_ids=(street_branches[0],))
    city_year = Cohort(*year, branch_ids=all_branches)
    rows = street_year.orders().count()
    print(
        f"PostgreSQL {connection.pg_version}; {Order.objects.count():,} orders; street: {len(street_branches)} "
        f"branches, {rows:,} orders in 2025"
    )
    print(f"street figures: {figures(street_year)}")
    cases = [
        ("street × year: figures", lambda: figures(street_year)),
        ("street × year: monthly series", lambda: series(street_year, by="month")),
        ("street × year: dashboard (series, then figures)", lambda: dashboard(street_year)),
        ("branch × month: figures", lambda: figures(one_branch)),
        ("city × year: figures", lambda: figures(city_year)),
    ]
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (the machine is shared)")

    def without_index_only(fn):
        # Baseline in the same run: the plan PostgreSQL falls back to without the covering
        # index (a bitmap heap scan over the street's ~25,000 heap pages).
        def run():
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SET LOCAL enable_indexonlyscan = off")
                return fn()

        return run

    def floor():
        # The least any figure could cost: count the street-year's rows, nothing else.
        return street_year.orders().count()

    cases.insert(1, ("street × year: figures, baseline (no index-only)", without_index_only(cases[0][1])))
    cases.insert(0, ("floor: COUNT(*) of the street-year", floor))
    with connection.cursor() as cur:
        cur.execute("SET max_parallel_workers_per_gather = 0")  # all work in one backend: its CPU is measured
        cur.execute("SELECT pg_backend_pid()")
        backend_pid = cur.fetchone()[0]
    print(f"{'case':48} {'p50':>8} {'p95':>8} {'p99':>8} {'CPU p50':>8}  (ms, {args.runs} runs)")
    for name, fn in [c for c in cases if args.only in c[0]]:
        r = timed(fn, args.runs if not name.startswith("city") else max(args.runs // 3, 5), backend_pid)
        print(f"{name:48} {r['p50']:8.1f} {r['p95']:8.1f} {r['p99']:8.1f} {r['cpu']:8.1f}")


if __name__ == "__main__":
    main()
