"""A synthetic peak hour against the cluster, scaled down, against docs/scaling.md's prediction.

    .venv/bin/python bench/peak_hour.py [--seconds 60] [--phones 600] [--per-process-rps 22]

docs/scaling.md sizes the city (650,000 residents, 1.02 million orders a year) at its peak hour:
65,000 sockets and about 217 requests a second spread over 10 daphne processes, that is about
22 req/s and 6,500 sockets per process, with 0.09 new orders a second, each offered to a pool of
20. This replays that load *per process* on the cluster of deploy/cluster.py (one daphne per
host), with the sockets scaled down (`--phones` over all hosts) to fit this machine:

1. calibration: one request at a time for a few seconds (service time S), then 12 at once
   (the most this cluster serves, X);
2. the peak: an open-loop (Poisson) stream of `--per-process-rps` × hosts requests a second, the
   read mix of the phones and desks (me, notifications, offers, order lists), and orders at the
   city's rate × the same scale, dispatched to pools of 20 connected phones, one of which claims;
3. the prediction: with utilisation ρ = rate / X, a queue's mean response time S / (1 − ρ)
   (M/M/1 with the cluster as one server of capacity X: a rough model that says how far from
   the knee the sizing sits); printed beside the measured mean, p50, p95, and the offers'
   delivery time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cluster import PASSWORD, Phone, Size, TicketStock, http, seed, setup_django  # noqa: E402
from deploy.cluster import Cluster, down, up  # noqa: E402

# The city's peak hour (docs/scaling.md).
CITY_ORDERS_PER_S = 1_020_000 / 365 * 0.12 / 3600  # 12 % of a day's orders in its busiest hour
CITY_PROCESSES = 10


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
    rate = args.per_process_rps * cluster.hosts
    rho = rate / capacity
    predicted = service / (1 - rho) if rho < 1 else float("inf")
    print(f"calibration: service time {service * 1000:.0f} ms, capacity {capacity:.0f} req/s", flush=True)
    print(f"peak: {rate:.0f} req/s offered (ρ = {rho:.2f}) for {args.seconds} s", flush=True)

    # 2. The peak.
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    offer_times: list[float] = []
    tasks: list[asyncio.Task] = []
    orders = list(world.orders)
    vol_of = dict(zip(world.users, world.volunteers, strict=True))
    by_user = {p.user_id: p for p in phones}
    # Orders at the city's rate per process, times the processes here.
    order_rate = CITY_ORDERS_PER_S / CITY_PROCESSES * cluster.hosts * args.order_boost

    async def request() -> None:
        status, seconds = await one(random.choice(reads))
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(seconds)

    async def dispatch(order: int) -> None:
        pool = random.sample(world.users, 20)
        t0 = time.perf_counter()
        status, _ = await asyncio.to_thread(
            http,
            base,
            "POST",
            f"/api/v1/orders/{order}/dispatch",
            {"mode": "pool", "volunteers": [vol_of[u] for u in pool]},
            desk,
        )
        if status != 200:
            return
        deadline = time.monotonic() + 30
        while not all(order in by_user[u].offers for u in pool) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        offer_times.append(time.perf_counter() - t0)

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
    for p in phones:
        await p.stop()
    mean = statistics.mean(latencies)
    print(f"measured: {len(latencies)} requests, statuses {statuses}", flush=True)
    print(
        f"  response time mean {mean * 1000:.0f} ms (predicted {predicted * 1000:.0f} ms, ratio "
        f"{mean / predicted:.2f}), p50 {pct(latencies, 0.5) * 1000:.0f} ms, p95 {pct(latencies, 0.95) * 1000:.0f} ms",
        flush=True,
    )
    if offer_times:
        print(
            f"  pool offers: {len(offer_times)} dispatches, request → 20th phone p50 "
            f"{pct(offer_times, 0.5) * 1000:.0f} ms, max {max(offer_times) * 1000:.0f} ms",
            flush=True,
        )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--phones", type=int, default=600)
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--per-process-rps", type=float, default=22)
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
