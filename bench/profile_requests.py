"""CPU per request in-process, one request at a time (not a test): prints figures, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/profile_requests.py [--db sandan_bench_http] [--runs 200] \\
        [--only orders.list,page: desk] [--profile DIR]

Runs on a copy of the HTTP bench's database (`bench/http_load.py --prepare` builds
`sandan_bench_http`): the same reads the load bench makes, through Django's whole middleware
stack with DEBUG off, as the server runs them, but in this process and one at a time, so the
CPU time per request (`time.thread_time`) and the SQL statements are the request's own, not
the machine's load. With `--profile DIR`, pyinstrument writes one text profile per read there
(all its runs together), to see where that CPU goes. The load bench's CPU column adds the
server's own share (daphne, the thread each request runs on); this one isolates the view.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sandan_bench_http")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--only", type=lambda s: [x for x in s.split(",") if x], default=[])
    parser.add_argument("--profile", help="write a pyinstrument text profile per read into this folder")
    parser.add_argument("--sql", action="store_true", help="print each read's statements")
    args = parser.parse_args()

    import http_load

    os.environ.update(http_load._env(args.db))
    os.environ["DB_POOL_MAX_SIZE"] = "0"  # one thread: one connection kept for the whole run
    os.environ["DB_CONN_MAX_AGE"] = "600"
    os.environ["CACHE_PREFIX"] = f"bench-profile-{os.getpid()}"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    world = http_load._world()
    # The floor of the load bench (a bare Django JSON view through the same middleware), to
    # read each line against.
    floor = http_load.Group("floor (GET /healthz)", [http_load.Req("GET", "/healthz", None, cookie=True)])
    reads = {floor.name: floor, **http_load._reads(world)}
    client = Client(HTTP_HOST="127.0.0.1")
    print(f"{'read':32} {'CPU ms p10':>10} {'p50':>7} {'p90':>7} {'wall p50':>9} {'SQL':>5}")
    for name, group in reads.items():
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        reqs = group.reqs

        def call(i: int, reqs: list = reqs) -> int:
            req = reqs[i % len(reqs)]
            key = http_load.session_key(req.user) if req.user is not None else ""
            if req.cookie:
                client.cookies["sessionid"] = key
                response = client.get(req.path)
            else:
                client.cookies.clear()
                response = client.get(req.path, headers={"X-Session-Token": key})
            return response.status_code

        for i in range(min(20, args.runs)):
            status = call(i)
            if status >= 400:
                print(f"{name}: status {status}")
                break
        cpu, wall = [], []
        seen = [0]

        def count(execute, sql, params, many, context, seen=seen):  # type: ignore[no-untyped-def]
            seen[0] += 1
            if args.sql:
                print("   ", " ".join(sql.split())[:300])
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            call(0)
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        for i in range(args.runs):
            c0, w0 = time.thread_time(), time.perf_counter()
            call(i)
            cpu.append((time.thread_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
        if profiler is not None:
            profiler.stop()
            out = Path(args.profile)
            out.mkdir(parents=True, exist_ok=True)
            safe = "".join(ch if ch.isalnum() else "_" for ch in name)
            (out / f"{safe}.txt").write_text(profiler.output_text(show_all=False, color=False))
            (out / f"{safe}.flat.txt").write_text(profiler.output_text(flat=True, color=False))
        cpu.sort()
        print(
            f"{name:32} {cpu[int(len(cpu) * 0.1)]:10.2f} {statistics.median(cpu):7.2f} {cpu[int(len(cpu) * 0.9)]:7.2f} "
            f"{statistics.median(wall):9.2f} {seen[0]:5d}",
            flush=True,
        )


if __name__ == "__main__":
    main()
