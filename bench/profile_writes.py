"""CPU per write in-process, one request at a time (not a test): prints figures, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/profile_writes.py [--orders 100] [--profile DIR]

The writes' companion of bench/profile_requests.py: on a fresh copy (`sandan_bench_writes`) of
the HTTP bench's template database (`bench/http_load.py --prepare` builds it), `--orders`
orders go through the lifecycle the load bench drives — create → accept → dispatch (direct) →
claim → start → complete → confirm — each step a real API request through Django's whole
middleware stack with DEBUG off, in this process and one at a time, so the CPU time per
request (`time.thread_time`, the request's own thread) and the SQL statements are the
request's, not the machine's load. The pushes go to the channel layer (`REDIS_URL`) as the
server's would. With `--profile DIR`, pyinstrument writes a text profile per step.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DB = "sandan_bench_writes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--profile", help="write a pyinstrument text profile per step into this folder")
    parser.add_argument("--sql", help="write the statements of each step's last request into this file")
    args = parser.parse_args()

    import http_load

    http_load._psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    http_load._psql(f'CREATE DATABASE "{DB}" TEMPLATE "{http_load.TEMPLATE}"')
    os.environ.update(http_load._env(DB))
    os.environ["DB_POOL_MAX_SIZE"] = "0"  # one thread: one connection kept for the whole run
    os.environ["DB_CONN_MAX_AGE"] = "600"
    os.environ["CACHE_PREFIX"] = f"bench-writes-{os.getpid()}"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from orders.models import Order

    world = http_load._world()
    client = Client(HTTP_HOST="127.0.0.1")
    since = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
    steps = [("create", http_load._create_requests(world, args.orders, f"w{os.getpid()}"))]
    print(f"{'step':10} {'n':>4} {'CPU ms p10':>10} {'p50':>7} {'p90':>7} {'wall p50':>9} {'SQL':>5}")
    for name in ["create", *http_load.CHAIN]:
        reqs = steps[0][1] if name == "create" else http_load._chain_requests(world, name, since)
        statements = [0]
        last: list[str] = []

        def count(execute, sql, params, many, context, statements=statements, last=last):  # type: ignore[no-untyped-def]
            statements[0] += 1
            last.append(sql)
            return execute(sql, params, many, context)

        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001)
            profiler.start()
        cpu, wall, failed = [], [], 0
        with connection.execute_wrapper(count):
            for req in reqs:
                last.clear()
                c0, w0 = time.thread_time(), time.perf_counter()
                response = client.post(
                    req.path,
                    data=json.dumps(req.body or {}),
                    content_type="application/json",
                    headers={"X-Session-Token": http_load.session_key(req.user)},
                )
                cpu.append((time.thread_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
                failed += response.status_code >= 400
        if profiler is not None:
            profiler.stop()
            out = Path(args.profile)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}.txt").write_text(profiler.output_text(show_all=False, color=False))
            (out / f"{name}.flat.txt").write_text(profiler.output_text(flat=True, color=False))
        if args.sql and last:
            with open(args.sql, "a") as sql_file:
                sql_file.write(f"== {name}: {len(last)} statements\n" + "".join(f"{q}\n" for q in last))
        if not cpu:
            print(f"{name:10} nothing to do")
            continue
        cpu.sort()
        print(
            f"{name:10} {len(cpu):4d} {cpu[len(cpu) // 10]:10.2f} {statistics.median(cpu):7.2f} "
            f"{cpu[len(cpu) * 9 // 10]:7.2f} {statistics.median(wall):9.2f} {statements[0] / len(cpu):5.1f}"
            + (f"  ({failed} failed)" if failed else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
