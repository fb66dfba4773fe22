"""Benchmark of the SLA timers (not a test): prints figures, asserts nothing it cannot measure.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/timers.py \
        [--timers 10000] [--workers 2] [--baseline-workers 1] [--baseline-timers N] [--limit 100]

In a dedicated PostgreSQL database (`sandan_bench_timers` on the DATABASE_URL server, dropped
and created anew each run) it loads `--timers` orders whose SLA has run out, one due step
each, in a mix: 40 % submitted and never reviewed (→ escalate), 30 % claimed and not started
(→ remind), 30 % completed and not confirmed (→ close, which credits the time bank). Then it
starts `--workers` worker processes (subprocesses, each with its own connection, running the
real `steps_claim` / `step_run` loop at one shared `now`) and times them from a common start
until every step is done. It runs the same load with `--baseline-workers` first, in the same
run, for the ratio.

Printed: wall time, steps per second, the split between workers, p50/p95/p99 of one step
(lease to commit), and duplicates: timeline events per (order, action) above one, and steps
whose TimerStep was written twice (impossible by the unique key, counted anyway).
REDIS_URL, if set, is used for the channel layer as in production.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "sandan_bench_timers"


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench/timers.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    return url.rsplit("/", 1)[0]


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect(_server_url() + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _setup_django(*, migrate: bool) -> None:
    os.environ["DATABASE_URL"] = f"{_server_url()}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ["SANDAN_EMBEDDED_WORKER"] = "0"
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def _load(n: int, now: datetime, tag: str) -> dict[str, list[int]]:
    """Orders past their SLA at `now`, one due step each. Returns ids by expected action."""
    from django.conf import settings
    from django.db import connection

    from accounts.models import User
    from orders.models import Category, Order
    from volunteers.models import Area, Branch, Volunteer

    sla = settings.SANDAN_TIMERS
    street = Area.objects.create(name=f"Street {tag}", level="street", center_lat=31.23, center_lng=121.47)
    community = Area.objects.create(
        name=f"Community {tag}", level="community", parent=street, center_lat=31.23, center_lng=121.47
    )
    grid = Area.objects.create(name=f"Grid {tag}", level="grid", parent=community, center_lat=31.23, center_lng=121.47)
    branch = Branch.objects.create(name=f"Branch {tag}", area=grid)
    secretary = User.objects.create(username=f"secretary-{tag}", email=f"secretary-{tag}@bench.test")
    branch.secretaries.add(secretary)
    staff = User.objects.create(username=f"staff-{tag}", email=f"staff-{tag}@bench.test")
    community.staff.add(staff)
    resident = User.objects.create(username=f"resident-{tag}")
    helper = User.objects.create(username=f"volunteer-{tag}")
    volunteer = Volunteer.objects.create(user=helper, base_lat=31.231, base_lng=121.471, capacity=20, on_duty=True)
    volunteer.branches.add(branch)
    category = Category.objects.get(code="errands")

    n_escalate = n * 4 // 10
    n_remind = n * 3 // 10
    n_close = n - n_escalate - n_remind
    base = {
        "resident": resident,
        "category": category,
        "description": "bench",
        "address": "1 Bench Lane",
        "contact_phone": "13800000000",
        "lat": 31.23,
        "lng": 121.47,
        "grid": grid,
        "branch": branch,
    }
    rows = []
    for _i in range(n_escalate):
        rows.append(Order(**base, status="submitted"))
    for i in range(n_remind):
        rows.append(
            Order(
                **base,
                status="claimed",
                volunteer=volunteer,
                claimed_at=now - timedelta(minutes=sla["START_MINUTES"] + 1, seconds=i),
            )
        )
    for i in range(n_close):
        rows.append(
            Order(
                **base,
                status="completed",
                volunteer=volunteer,
                hours=1,
                claimed_at=now - timedelta(days=30),
                started_at=now - timedelta(days=30),
                completed_at=now - timedelta(minutes=sla["CONFIRM_MINUTES"] + 1, seconds=i),
            )
        )
    created = Order.objects.bulk_create(rows, batch_size=2000)
    ids = [o.pk for o in created]
    # created_at is auto_now_add: move the unreviewed ones past the review SLA.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_order SET created_at = %s WHERE id = ANY(%s)",
            [now - timedelta(minutes=sla["REVIEW_MINUTES"] + 1), ids[:n_escalate]],
        )
    return {
        "escalate": ids[:n_escalate],
        "remind": ids[n_escalate : n_escalate + n_remind],
        "confirm": ids[n_escalate + n_remind :],
    }


def _child(args: argparse.Namespace) -> None:
    """One worker process: the tick loop, with each step timed."""
    _setup_django(migrate=False)
    from django.db import connection

    from orders.sla import Sla
    from timers.models import Step
    from timers.services import step_run, steps_claim

    now = datetime.fromisoformat(args.now)
    while time.time() < args.start_at:
        time.sleep(0.001)
    started = time.perf_counter()
    durations: list[float] = []
    outcomes: dict[str, int] = {}
    idle_rounds = 0
    sla = Sla.load()
    while idle_rounds < 2:
        got = 0
        for step in Step.values:
            t0 = time.perf_counter()
            ids = steps_claim(step=step, now=now, worker=args.name, sla=sla, limit=args.limit)
            claim_each = (time.perf_counter() - t0) / max(len(ids), 1)
            got += len(ids)
            for step_id in ids:
                t1 = time.perf_counter()
                outcome = step_run(step_id=step_id, now=now, worker=args.name, sla=sla)
                durations.append(time.perf_counter() - t1 + claim_each)
                outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1
        idle_rounds = idle_rounds + 1 if got == 0 else 0
    elapsed = time.perf_counter() - started
    finished_at = time.time()
    connection.close()
    print(
        json.dumps(
            {
                "name": args.name,
                "elapsed": elapsed,
                "finished_at": finished_at,
                "durations": durations,
                "outcomes": outcomes,
            }
        )
    )


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _run(n: int, workers: int, limit: int, tag: str) -> dict:
    from django.db import connection
    from django.db.models import Count

    from orders.models import Order, OrderEvent
    from timers.models import TimerStep

    now = datetime.now(UTC)
    expected = _load(n, now, tag)
    connection.close()
    start_at = time.time() + 15.0  # every child has imported Django and connected by then
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                "--name",
                f"{tag}-w{i + 1}",
                "--now",
                now.isoformat(),
                "--start-at",
                str(start_at),
                "--limit",
                str(limit),
            ],
            stdout=subprocess.PIPE,
            env={**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]},
            text=True,
        )
        for i in range(workers)
    ]
    reports = []
    for p in procs:
        out, _err = p.communicate()
        reports.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(r["finished_at"] for r in reports) - start_at

    all_ids = [i for ids in expected.values() for i in ids]
    dup_events = (
        OrderEvent.objects.filter(order_id__in=all_ids, actor__isnull=True)
        .values("order_id", "action")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    dup_steps = (
        TimerStep.objects.filter(order_id__in=all_ids)
        .values("order_id", "step", "anchor")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    retried = TimerStep.objects.filter(order_id__in=all_ids, attempts__gt=1).count()
    fired = {
        action: OrderEvent.objects.filter(order_id__in=ids, action=action, actor__isnull=True).count()
        for action, ids in expected.items()
    }
    missing = sum(len(ids) - fired[action] for action, ids in expected.items())
    closed = Order.objects.filter(pk__in=expected["confirm"], status="closed").count()
    durations = [d for r in reports for d in r["durations"]]
    return {
        "workers": workers,
        "timers": n,
        "wall_s": wall,
        "per_s": n / wall if wall else 0.0,
        "split": {r["name"]: sum(r["outcomes"].values()) for r in reports},
        "p50_ms": _pct(durations, 0.50) * 1000,
        "p95_ms": _pct(durations, 0.95) * 1000,
        "p99_ms": _pct(durations, 0.99) * 1000,
        "duplicate_events": dup_events,
        "duplicate_steps": dup_steps,
        "retried": retried,
        "missing": missing,
        "closed": closed,
        "fired": fired,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-workers", type=int, default=1)
    parser.add_argument("--baseline-timers", type=int, default=0, help="default: --timers")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--name", default="w")
    parser.add_argument("--now", default="")
    parser.add_argument("--start-at", type=float, default=0.0)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    _recreate_database()
    _setup_django(migrate=True)
    results = []
    baseline_timers = args.baseline_timers or args.timers
    for tag, workers, n in (("base", args.baseline_workers, baseline_timers), ("main", args.workers, args.timers)):
        if workers <= 0:
            continue
        result = _run(n, workers, args.limit, tag)
        results.append(result)
        print(
            f"{workers} worker(s), {result['timers']} due timers: {result['wall_s']:.1f} s, "
            f"{result['per_s']:.0f} steps/s; split {result['split']}; one step p50 {result['p50_ms']:.1f} ms, "
            f"p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; duplicates: "
            f"{result['duplicate_events']} events, {result['duplicate_steps']} steps; "
            f"retried or taken over {result['retried']}; missing {result['missing']}; "
            f"fired {result['fired']}"
        )
    if len(results) == 2 and results[0]["per_s"]:
        print(
            f"throughput ratio {results[1]['workers']} vs {results[0]['workers']} worker(s): "
            f"{results[1]['per_s'] / results[0]['per_s']:.2f}x"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
