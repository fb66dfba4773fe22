"""Benchmark of the desk's order-list export (not a test): prints the peak memory and the
time of writing --rows orders as CSV and as .xlsx through the real view, streamed.

    .venv/bin/python bench/exports.py [--rows 100000] [--baseline]

Into a dedicated PostgreSQL database (`sandan_bench_exports` on the DATABASE_URL server,
created and migrated if missing) it loads one branch with --rows orders (bulk_create;
skipped when they are there already). Then, signed in as the branch's secretary through
Django's test client, it GETs /desk/orders/export.csv and export.xlsx and reads the whole
streamed body, each in a fresh process, and prints for each: the time, the bytes written and
how much the process's peak RSS grew during the request (after a warm-up request).

--baseline also measures what the streaming avoids: the same rows read into a list of model
instances and written with openpyxl's ordinary workbook (every cell an object in memory).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "sandan_bench_exports"


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
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _load(n: int):
    from accounts.models import User
    from orders.models import Category, Order
    from volunteers.models import Area, Branch

    street, _ = Area.objects.get_or_create(
        name="Bench street", level=Area.Level.STREET, defaults={"center_lat": 31.23, "center_lng": 121.47}
    )
    community, _ = Area.objects.get_or_create(
        name="Bench community",
        level=Area.Level.COMMUNITY,
        parent=street,
        defaults={"center_lat": 31.23, "center_lng": 121.47},
    )
    grid, _ = Area.objects.get_or_create(
        name="Bench grid", level=Area.Level.GRID, parent=community, defaults={"center_lat": 31.23, "center_lng": 121.47}
    )
    branch, _ = Branch.objects.get_or_create(name="Bench branch", area=grid)
    secretary, _ = User.objects.get_or_create(username="bench-secretary")
    branch.secretaries.add(secretary)
    resident, _ = User.objects.get_or_create(username="bench-resident", defaults={"display_name": "王阿姨"})
    category = Category.objects.order_by("pk").first()
    have = Order.objects.filter(branch=branch).count()
    if have < n:
        print(f"loading {n - have} orders…", flush=True)
        batch = []
        for i in range(have, n):
            batch.append(
                Order(
                    resident=resident,
                    category=category,
                    description=f"第{i}号：请帮忙买菜和取药，家里只有我一个人，谢谢！",
                    address="北区一号楼 3 单元 501",
                    contact_phone="13912345678",
                    lat=31.23,
                    lng=121.47,
                    grid=grid,
                    branch=branch,
                    status="submitted",
                )
            )
            if len(batch) == 10_000:
                Order.objects.bulk_create(batch)
                batch = []
        Order.objects.bulk_create(batch)
    return secretary, branch


def _child(fmt: str, rows: int, queue) -> None:
    """One export in a fresh process: its peak RSS is the export's alone (the parent loaded
    the rows). Timed without tracemalloc, which slows allocation-heavy code several-fold."""
    _setup()
    from django.test import Client

    secretary, branch = _load(rows)
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(secretary)

    def read(params: dict) -> int:
        response = client.get(f"/desk/orders/export.{fmt}", params)
        assert response.status_code == 200, response.status_code
        total = sum(len(chunk) for chunk in response.streaming_content)
        response.close()
        return total

    read({"branch": branch.pk, "status": "closed"})  # warm: imports, caches, an empty file
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    size = read({"branch": branch.pk})
    elapsed = time.perf_counter() - started
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    queue.put((elapsed, size, before / 1024, growth))


def _baseline(rows: int, queue) -> None:
    """What the streaming avoids: every row in a list, openpyxl's ordinary workbook."""
    _setup()
    from openpyxl import Workbook

    from web import exports

    secretary, branch = _load(rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    values = {"branch": branch.pk}
    every = list(exports.rows(exports.filtered(secretary, values)))
    book = Workbook()
    sheet = book.active
    sheet.append([str(c.header) for c in exports.COLUMNS])
    for row in every:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    elapsed = time.perf_counter() - started
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    queue.put((elapsed, len(out.getvalue()), before / 1024, growth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args()
    _setup()
    _load(args.rows)
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    print(f"{args.rows} orders of one branch, PostgreSQL, GET /desk/orders/export.<fmt>, each in a fresh process")
    runs = [("csv (streamed)", _child, ("csv",)), ("xlsx (write-only, streamed file)", _child, ("xlsx",))]
    if args.baseline:
        runs.append(("baseline: all rows + ordinary workbook", _baseline, ()))
    for label, target, extra in runs:
        queue = spawn.Queue()
        process = spawn.Process(target=target, args=(*extra, args.rows, queue))
        process.start()
        elapsed, size, rss, growth = queue.get()
        process.join()
        print(
            f"{label:<40} {elapsed:6.1f} s  {size / 1e6:6.1f} MB written  "
            f"RSS before {rss:6.0f} MB, peak growth {growth:6.0f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
