"""A synthetic peak hour against the cluster, scaled down, against docs/scaling.md's prediction.

    .venv/bin/python bench/peak_hour.py [--seconds 45] [--phones 600]

docs/scaling.md sizes the city (650,000 residents, 1.02 million orders a year) at its peak hour:
65,000 sockets and about 220 requests a second over 10 daphne processes, 22 req/s and 6,500
sockets each, each process with a core of its own that serves ~50 req/s of the mix: a
utilisation ρ of 0.44, 0.54 once a host of five is lost. The sizing's claim is that at that
utilisation a request waits little beyond its own service time. This replays it on the
cluster of deploy/cluster.py, with the sockets scaled down (`--phones` over all hosts) and the
request rate scaled to this machine's capacity, so that the cluster runs at the sizing's ρ:

1. calibration: one request at a time for a few seconds (service time S), then 12 at once
   (the capacity X); the cluster is taken as c = round(X × S) servers (about its cores);
2. three phases of an open-loop (Poisson) stream of the read mix of the phones and desks (me,
   notifications, order lists, categories) at ρ × X requests a second — ρ = 0.44 (the sizing),
   0.54 (a host lost), 0.75 (past the sizing's limit) — plus orders at the city's rate per
   process × hosts × `--order-boost`, dispatched to pools of 20 connected phones;
3. the prediction: the mean response time of an M/M/c queue (Erlang C) at that rate, printed
   beside the measured mean, p50, p95, p99 and the offers' delivery time (dispatch → 20th phone).

It exits non-zero if any request fails.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import secrets
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cluster import PASSWORD, Phone, Size, TicketStock, http, offer_to_pool, seed, setup_django  # noqa: E402
from deploy.cluster import Cluster, down, up  # noqa: E402

# The city's peak hour (docs/scaling.md).
CITY_ORDERS_PER_S = 1_020_000 / 365 * 0.12 / 3600  # 12 % of a day's orders in its busiest hour
CITY_PROCESSES = 10
# The sizing's utilisation of a daphne process: 22 req/s of ~50 a core serves, and 27 req/s
# once one host of five is lost.
SIZING_RHO = 22 / 50
HOST_LOST_RHO = 27 / 50


def mmc_response_time(rate: float, service: float, servers: int) -> float:
    """Mean response time of an M/M/c queue (Erlang C): the service time plus the mean wait."""
    load = rate * service
    if load >= servers:
        return float("inf")
    top = load**servers / math.factorial(servers) / (1 - load / servers)
    waiting = top / (sum(load**k / math.factorial(k) for k in range(servers)) + top)
    return service + waiting * service / (servers - load)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def main_async(cluster: Cluster, args: argparse.Namespace) -> int:
    # The requests are blocking calls in threads: enough of them that the open-loop stream is
    # never held back by the load generator's own pool (the default is cores + 4).
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=96))
    size = Size(phones=args.phones, orders=args.orders, claimers=0, timer_orders=0, gap_orders=0)
    world = await asyncio.to_thread(seed, size, f"peak{secrets.token_hex(3)}")
    base, base_ws = cluster.url, cluster.url.replace("http://", "ws://")
    _, body = await asyncio.to_thread(
        http, base, "POST", "/_allauth/app/v1/auth/login", {"username": world.secretary, "password": PASSWORD}
    )
    desk = body["meta"]["session_token"]
    stock = TicketStock(world.users, per_user=2)
    await stock.fill()
    phones = [Phone(i, u, claimer=False, base_ws=base_ws, stock=stock) for i, u in enumerate(world.users)]
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in phones)), 300)
    print(f"{len(phones)} phones connected over {cluster.hosts} hosts", flush=True)
    reads = ["/api/v1/me", "/api/v1/notifications", "/api/v1/orders?limit=20", "/api/v1/categories"]

    async def one(path: str) -> tuple[int, float]:
        t0 = time.perf_counter()
        status, _ = await asyncio.to_thread(http, base, "GET", path, None, desk)
        return status, time.perf_counter() - t0

    # 1. Calibration.
    single = []
    t_end = time.monotonic() + 5
    while time.monotonic() < t_end:
        single.append((await one(random.choice(reads)))[1])
    service = statistics.mean(single)
    done = 0
    t0 = time.perf_counter()
    t_end = time.monotonic() + 8

    async def closed_loop() -> None:
        nonlocal done
        while time.monotonic() < t_end:
            await one(random.choice(reads))
            done += 1

    await asyncio.gather(*(closed_loop() for _ in range(12)))
    capacity = done / (time.perf_counter() - t0)
    # The cluster as c servers of service time S: c is how many requests it serves side by side
    # at its capacity (X × S), which on this machine comes out at about its cores.
    servers = max(1, round(capacity * service))
    print(
        f"calibration: service time S {service * 1000:.0f} ms (one at a time), capacity X {capacity:.0f} req/s "
        f"(12 at once) → c = {servers} servers",
        flush=True,
    )

    orders = list(world.orders)
    vol_of = dict(zip(world.users, world.volunteers, strict=True))
    by_user = {p.user_id: p for p in phones}
    # Orders at the city's rate per process, times the processes here.
    order_rate = CITY_ORDERS_PER_S / CITY_PROCESSES * cluster.hosts * args.order_boost

    async def phase(rho: float) -> tuple[list[float], dict[int, int], list[float]]:
        rate = rho * capacity
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        offer_times: list[float] = []
        tasks: list[asyncio.Task] = []

        async def request() -> None:
            status, seconds = await one(random.choice(reads))
            statuses[status] = statuses.get(status, 0) + 1
            latencies.append(seconds)

        async def dispatch(order: int) -> None:
            seconds = await offer_to_pool(base, desk, order, random.sample(world.users, 20), vol_of, by_user)
            if seconds is not None:
                offer_times.append(seconds)

        start = time.monotonic()
        next_req = next_order = start
        while time.monotonic() - start < args.seconds:
            now = time.monotonic()
            if now >= next_req:
                tasks.append(asyncio.create_task(request()))
                next_req += random.expovariate(rate)
            if now >= next_order and orders:
                tasks.append(asyncio.create_task(dispatch(orders.pop())))
                next_order += random.expovariate(order_rate)
            await asyncio.sleep(max(0.0, min(next_req, next_order) - time.monotonic()))
        await asyncio.gather(*tasks)
        return latencies, statuses, offer_times

    # 2. The peak, at the sizing's utilisation, at the utilisation after losing a host, and past
    # the sizing's limit to show where the knee is.
    failures = 0
    for name, rho in (("sizing", SIZING_RHO), ("a host lost", HOST_LOST_RHO), ("past the limit", 0.75)):
        latencies, statuses, offer_times = await phase(rho)
        predicted = mmc_response_time(rho * capacity, service, servers)
        mean = statistics.mean(latencies)
        bad = sum(n for status, n in statuses.items() if status != 200)
        failures += bad
        print(
            f"{name}: ρ = {rho:.2f}, {rho * capacity:.0f} req/s offered for {args.seconds:.0f} s: "
            f"{len(latencies)} requests, statuses {statuses}",
            flush=True,
        )
        print(
            f"  response time mean {mean * 1000:.0f} ms against M/M/{servers}'s {predicted * 1000:.0f} ms "
            f"(ratio {mean / predicted:.2f}), p50 {pct(latencies, 0.5) * 1000:.0f} ms, "
            f"p95 {pct(latencies, 0.95) * 1000:.0f} ms, p99 {pct(latencies, 0.99) * 1000:.0f} ms",
            flush=True,
        )
        if offer_times:
            print(
                f"  pool offers: {len(offer_times)} dispatches, request → 20th phone p50 "
                f"{pct(offer_times, 0.5) * 1000:.0f} ms, max {max(offer_times) * 1000:.0f} ms",
                flush=True,
            )
    for p in phones:
        await p.stop()
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=45, help="each of the three phases")
    parser.add_argument("--phones", type=int, default=600)
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--order-boost", type=float, default=10, help="orders × this (the city's rate is tiny)")
    parser.add_argument("--tag", default="sdc")
    args = parser.parse_args()
    cluster = Cluster.load(args.tag)
    started = cluster is None or not cluster.pids
    if started:
        cluster = up(Cluster(tag=args.tag))
    assert cluster is not None
    try:
        setup_django(cluster)
        code = asyncio.run(main_async(cluster, args))
    finally:
        if started:
            down(cluster)
    sys.exit(code)


if __name__ == "__main__":
    main()
