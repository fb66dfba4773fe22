"""Benchmark of the Open311 GeoReport v2 endpoints (not a test): prints figures, asserts nothing.

    .venv/bin/python bench/open311.py [--orders 100000] [--repeat 30]

Into a dedicated PostgreSQL database (`sandan_bench_open311` on the DATABASE_URL server,
created and migrated if missing) it loads a street of 16 grids, one branch each, 2,000
residents and N orders spread over the last 180 days (a third of them reviewed with a
timeline note, a tenth with a photo record). Then, in process through Django's test client
(no network), for each endpoint p50/p95/p99:

- GET requests.json and requests.xml with the default window (the newest 1,000 of the last
  90 days: the heaviest answer the spec allows), and with status=closed;
- baseline: the same 1,000 rows fetched by the ORM as plain values, no subqueries, no
  rendering; the ratio says what the spec's shape and the privacy masking cost;
- GET requests/{id}.json, GET services.json;
- POST requests.json: a filing, i.e. a resident lookup and `order_submit` (routing, timeline,
  outbox) in one transaction.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "sandan_bench_open311"
LAT, LNG = 31.23, 121.47


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    return url.rsplit("/", 1)[0]


def _setup() -> None:
    import psycopg

    with psycopg.connect(_server_url() + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = f"{_server_url()}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.pop("REDIS_URL", None)  # in-process cache: measure the endpoints, not a network hop
    os.environ["ALLOWED_HOSTS"] = "testserver"
    # Half the filings name the same resident: what is measured is a filing, not the posting limit.
    os.environ.setdefault("ORDER_SUBMIT_RATE", "100000/hour")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def timed(name: str, repeat: int, call: Callable[[], object]) -> float:
    call()  # warm
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    ms = [s * 1000 for s in seconds]
    print(
        f"  {name:<34} n={len(ms):<4} p50={pct(ms, 0.5):8.2f} ms  p95={pct(ms, 0.95):8.2f} ms  "
        f"p99={pct(ms, 0.99):8.2f} ms  mean={statistics.fmean(ms):8.2f} ms"
    )
    return pct(ms, 0.5)


def load(n_orders: int) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django.utils import timezone

    from accounts.models import ResidentProfile
    from orders.models import Attachment, Category, Order, OrderEvent
    from volunteers.models import Area, Branch

    have = Order.objects.count()
    if have >= n_orders:
        print(f"  {have} orders already loaded")
        return
    rng = random.Random(311)
    print(f"  loading from {have} orders", flush=True)
    street = Area.objects.filter(name="bench-street").first() or Area.objects.create(
        name="bench-street", level="street", center_lat=LAT, center_lng=LNG
    )
    branches = list(Branch.objects.filter(area__parent__parent=street))
    if not branches:
        for i in range(4):
            community = Area.objects.create(
                name=f"bench-community-{i}", level="community", parent=street, center_lat=LAT, center_lng=LNG
            )
            for j in range(4):
                lat, lng = LAT + (i - 2) * 0.01, LNG + (j - 2) * 0.01
                grid = Area.objects.create(
                    name=f"bench-grid-{i}-{j}", level="grid", parent=community, center_lat=lat, center_lng=lng
                )
                branches.append(Branch.objects.create(name=f"bench-branch-{i}-{j}", area=grid))
    User = get_user_model()
    residents = list(User.objects.filter(username__startswith="bench-resident-"))
    if not residents:
        User.objects.bulk_create(
            User(username=f"bench-resident-{i}", email=f"r{i}@example.com", password=make_password(None))
            for i in range(2000)
        )
        residents = list(User.objects.filter(username__startswith="bench-resident-"))
        ResidentProfile.objects.bulk_create(
            ResidentProfile(user=u, phone=f"138{i:08d}", address=f"{i} Bench Road", lat=LAT, lng=LNG)
            for i, u in enumerate(residents)
        )
    categories = list(Category.objects.all())
    now = timezone.now()
    statuses = ["submitted", "accepted", "rejected", "cancelled"]  # states that need no volunteer
    batch = 5000
    for start in range(have, n_orders, batch):
        rows = []
        for _ in range(min(batch, n_orders - start)):
            branch = rng.choice(branches)
            rows.append(
                Order(
                    resident=rng.choice(residents),
                    category=rng.choice(categories),
                    description="請幫忙 " + "x" * rng.randint(10, 200),
                    address="1 Bench Road",
                    contact_phone="13800000000",
                    lat=branch.area.center_lat + rng.uniform(-0.004, 0.004),
                    lng=branch.area.center_lng + rng.uniform(-0.004, 0.004),
                    branch=branch,
                    grid=branch.area,
                    status=rng.choice(statuses),
                )
            )
        created = Order.objects.bulk_create(rows)
        with connection.cursor() as cursor:
            # Spread over the last 180 days in one statement (bulk_update's CASE is quadratic).
            cursor.execute(
                "UPDATE orders_order SET created_at = %s - random() * interval '180 days' WHERE id BETWEEN %s AND %s",
                [now, created[0].pk, created[-1].pk],
            )
            cursor.execute(
                "UPDATE orders_order SET updated_at = created_at WHERE id BETWEEN %s AND %s",
                [created[0].pk, created[-1].pk],
            )
        events = [OrderEvent(order=o, action="submit", to_status="submitted") for o in created]
        events += [
            OrderEvent(order=o, action="accept", from_status="submitted", to_status="accepted", note="已受理")
            for o in created[::3]
        ]
        OrderEvent.objects.bulk_create(events)
        Attachment.objects.bulk_create(
            Attachment(
                order=o,
                kind="photo",
                token=f"{o.pk:032x}",
                extension="jpg",
                content_type="image/jpeg",
                size=1,
                file=f"attachments/{o.pk}/x.jpg",
            )
            for o in created[::10]
        )
        print(f"  loaded {start + len(created)} orders", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after a load this size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    _setup()
    from django.db import connection
    from django.test import Client

    from open311 import services
    from open311.models import Open311Client
    from orders.models import Order

    print(f"Open311 bench: {args.orders} orders, PostgreSQL {connection.pg_version}")
    load(args.orders)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    existing = Open311Client.objects.filter(name="bench").first()
    if existing is not None:
        key = services.client_rotate_key(client=existing)
    else:
        _client, key = services.client_register(name="bench", rate="1000000/minute")
    http = Client()
    base = "/open311/v2"

    def get(path: str) -> Callable[[], object]:
        def call() -> object:
            response = http.get(base + path)
            assert response.status_code == 200, response.content[:200]
            return response

        return call

    print("reads:")
    json_p50 = timed("GET requests.json (1,000 rows)", args.repeat, get("/requests.json"))
    timed("GET requests.xml (1,000 rows)", args.repeat, get("/requests.xml"))
    timed("GET requests.json?status=closed", args.repeat, get("/requests.json?status=closed"))

    from django.utils import timezone

    def baseline() -> object:
        since = timezone.now() - timedelta(days=90)
        return list(Order.objects.filter(created_at__gte=since).order_by("-created_at", "-id")[:1000].values())

    base_p50 = timed("baseline: ORM values, 1,000 rows", args.repeat, baseline)
    print(f"  ratio requests.json / baseline (p50): {json_p50 / base_p50:.1f}x")
    one = Order.objects.order_by("-id").values_list("pk", flat=True).first()
    timed("GET requests/{id}.json", args.repeat * 5, get(f"/requests/{one}.json"))
    timed("GET services.json", args.repeat * 5, get("/services.json"))

    print("writes:")
    counter = iter(range(10**9))

    def post() -> object:
        i = next(counter)
        response = http.post(
            base + "/requests.json",
            {
                "api_key": key,
                "service_code": "errands",
                "lat": str(LAT + 0.0004),
                "long": str(LNG + 0.0004),
                "email": f"bench-post-{os.getpid()}-{i}@example.com" if i % 2 else "bench-repeat@example.com",
                "description": "請幫我買米。",
            },
        )
        assert response.status_code == 201, response.content[:200]
        return response

    timed("POST requests.json (filing)", args.repeat * 3, post)


if __name__ == "__main__":
    main()
