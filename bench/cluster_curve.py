"""Throughput with 1, 2 and 3 hosts behind HAProxy, in one run (not a test; prints figures).

    .venv/bin/python bench/cluster_curve.py [--hosts 1,2,3] [--duration 8] [--phones 600] [--rounds 40]

For each host count it starts the cluster of deploy/cluster.py (`--tag sdc`, so not beside a
`make cluster`) on a fresh copy of bench/http_load.py's database, then through HAProxy:

- the HTTP mix of bench/http_load.py (`--target`, the `mix` runs: residents, volunteers,
  secretaries, staff at once) and its floor (`GET /healthz`): req/s, latency, CPU, statements;
- pool offers (bench/realtime.py's measure, here through HAProxy and the sharded layer):
  `--phones` phones connected, `--rounds` dispatches to pools of 20 made by 4 desks at once;
  offers delivered per second (the last phone of each pool has it), and the latency from the
  request to the last phone.

It also records CPU seconds per process type (daphne, worker, PostgreSQL, PgBouncer, Redis,
HAProxy) from /proc, which says where the ceiling is on a machine whose cores every host shares.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cluster import PASSWORD, Phone, TicketStock, http, offer_to_pool, seed, setup_django  # noqa: E402
from bench.cluster import Size as ScenarioSize  # noqa: E402
from deploy.cluster import PG_DIRECT, Cluster, down, up  # noqa: E402

DATABASE = "sandan_cluster_http"
TEMPLATE = "sandan_bench_http_template"  # bench/http_load.py builds it (`--prepare`)


def _psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG_DIRECT}/postgres", "-q", "-c", sql], check=True, capture_output=True)


def _clone() -> None:
    _psql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{DATABASE}" TEMPLATE "{TEMPLATE}"')


def _cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out: Counter[str] = Counter()
    for role, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out["".join(c for c in role if not c.isdigit())] += (int(fields[11]) + int(fields[12])) / tick
    return dict(out)


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL backend (shared with the other users of the server)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if not (proc / "comm").read_text().startswith("postgres"):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def http_mix(cluster: Cluster, duration: float) -> str:
    pids = [cluster.pids[r] for r in cluster.pids if r.startswith("web")]
    argv = [sys.executable, "bench/http_load.py", "--target", cluster.url, "--only", "mix", "--duration", str(duration)]
    for pid in pids:
        argv += ["--server-pid", str(pid)]
    argv += ["--probe", ",".join(f"http://{cluster.host_ip(n)}:8000" for n in range(1, cluster.hosts + 1))]
    env = {
        **os.environ,
        "BENCH_HTTP_DATABASE": DATABASE,
        "DATABASE_URL": f"{PG_DIRECT}/{DATABASE}",
        "REDIS_URL": cluster.redis_urls[0],
    }
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return result.stdout + (result.stderr[-2000:] if result.returncode else "")


async def pool_offers(cluster: Cluster, phones_n: int, rounds: int) -> dict[str, Any]:
    world = await asyncio.to_thread(
        seed,
        ScenarioSize(phones=phones_n, orders=rounds, claimers=0, timer_orders=0, gap_orders=0),
        f"k{os.getpid() % 10000}{cluster.hosts}",
    )
    base, base_ws = cluster.url, cluster.url.replace("http://", "ws://")
    _status, body = await asyncio.to_thread(
        http, base, "POST", "/_allauth/app/v1/auth/login", {"username": world.secretary, "password": PASSWORD}
    )
    desk = body["meta"]["session_token"]
    stock = TicketStock(world.users, per_user=1)
    await stock.fill()
    phones = [Phone(i, u, claimer=False, base_ws=base_ws, stock=stock) for i, u in enumerate(world.users)]
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in phones)), 300)
    by_user = {p.user_id: p for p in phones}
    vol_of = dict(zip(world.users, world.volunteers, strict=True))
    latencies: list[float] = []
    queue = list(enumerate(world.orders))

    async def desk_lane() -> None:
        while queue:
            r, order = queue.pop(0)
            pool = world.users[(r * 20) % (phones_n - 20) :][:20]
            seconds = await offer_to_pool(base, desk, order, pool, vol_of, by_user)
            if seconds is not None:
                latencies.append(seconds)

    t0 = time.perf_counter()
    await asyncio.gather(*(desk_lane() for _ in range(4)))
    seconds = time.perf_counter() - t0
    for p in phones:
        await p.stop()
    latencies.sort()
    pct = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000)  # noqa: E731
    return {
        "phones": phones_n,
        "dispatches": len(latencies),
        "offers_per_s": round(len(latencies) * 20 / seconds, 1),
        "dispatch_to_last_phone_ms": {"p50": pct(0.5), "p95": pct(0.95), "max": pct(1.0)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="1,2,3")
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--phones", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    if Cluster.load("sdc") is not None and Cluster.load("sdc").pids:  # type: ignore[union-attr]
        sys.exit("a cluster sdc is up: make cluster-down first (this bench starts its own, with 1, 2, 3 hosts)")
    results = {}
    for n in [int(x) for x in args.hosts.split(",")]:
        _clone()
        cluster = up(
            Cluster(
                hosts=n, database=DATABASE, extra_env={"SANDAN_BENCH_PROBE": "1", "SECRET_KEY": "bench-only-not-secret"}
            )
        )
        try:
            print(
                f"\n=== {n} host(s) behind HAProxy (load {Path('/proc/loadavg').read_text().split()[:3]}) ===",
                flush=True,
            )
            cpu0, pg0 = _cpu_seconds(cluster.pids), _postgres_cpu()
            t0 = time.monotonic()
            print(http_mix(cluster, args.duration), flush=True)
            wall = time.monotonic() - t0
            cpu1, pg1 = _cpu_seconds(cluster.pids), _postgres_cpu()
            cpu = {k: round(cpu1.get(k, 0) - cpu0.get(k, 0), 1) for k in cpu1} | {"postgres (all)": round(pg1 - pg0, 1)}
            print(f"CPU seconds during the HTTP runs ({wall:.0f} s wall, 2 cores): {cpu}", flush=True)
            if "django" not in sys.modules:
                setup_django(cluster)
            else:
                from django.db import connections

                connections.close_all()
                os.environ["DATABASE_URL"] = f"{PG_DIRECT}/{DATABASE}"
            offers = asyncio.run(pool_offers(cluster, args.phones, args.rounds))
            print(f"pool offers: {json.dumps(offers)}", flush=True)
            results[n] = offers
        finally:
            from django.db import connections

            connections.close_all()
            down(cluster)
    print(f"\nload average at the end: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
