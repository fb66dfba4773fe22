"""The cluster scenario: phones, pool races, a host killed, a Redis shard restarted, nothing lost.

    .venv/bin/python bench/cluster.py                 # full size, against `make cluster` (or starts one)
    .venv/bin/python bench/cluster.py --small         # the CI size (tests/cluster/test_scenario.py)

Against the cluster of deploy/cluster.py (three namespace hosts behind HAProxy, PgBouncer, two
Redis shards), everything through HAProxy:

1. `--phones` volunteers open /ws/ (single-use tickets; a phone that reconnects takes a fresh
   one and sends `after=<last event id>`); HAProxy spreads them over the hosts (each handshake's
   `X-Sandan-Host` says where it landed).
2. `--orders` orders dispatched by the desk (REST, mode pool) to the `--claimers` claimers, whose
   sockets sit on every host, plus a few other phones each; every claimer claims every offer
   it sees. Exactly one `claim.result ok` per order, and it is the order's volunteer.
3. Half-way through, `--timer-orders` orders offered to phones that never claim have their
   offers aged past the SLA (the workers on all hosts start widening them) and host 2 is
   killed with SIGKILL, web and worker. Its phones reconnect through HAProxy and resume;
   claims whose answer died with the host are sent again (the same `ref`). Every widening
   fires exactly once (a dead worker's lease is taken over), every order ends claimed or
   widened, every phone has every event of its outbox exactly once.
4. Redis shard 1 (channel layer and cache) is killed and started again `--gap` seconds later
   while the desk keeps dispatching: REST keeps answering, the pushes of the gap arrive after
   (the outbox relay), sockets resume.
5. Host 2 comes back: phones that reconnect to it are replayed nothing they already had.

Prints each figure; exits 1 on any loss, duplicate, stuck order or failed check.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.cluster import PG_DIRECT, Cluster, down, haproxy_states, kill_host, restart_redis, start_host, up  # noqa: E402

PASSWORD = "cluster-bench-pw"  # noqa: S105 - a throwaway account
UNUSABLE = "!"
KILLED = 2  # the host that is lost
SHARD = 1  # the Redis shard that restarts (it also holds the cache)


@dataclass
class Size:
    phones: int = 1000
    orders: int = 200
    claimers: int = 32
    timer_orders: int = 30
    gap_orders: int = 20
    others: int = 8  # phones that never claim, added to each pool
    gap: float = 4.0


SMALL = Size(phones=150, orders=40, claimers=12, timer_orders=8, gap_orders=6, others=4, gap=3.0)


# --- the database, from this process (PostgreSQL directly) ----------------------------------------


def setup_django(cluster: Cluster) -> None:
    env = cluster.env()
    env["DATABASE_URL"] = f"{PG_DIRECT}/{cluster.database}"
    env["DB_POOL_MAX_SIZE"] = "8"
    env.pop("PATH", None)
    os.environ.update(env)
    import django

    django.setup()


@dataclass
class World:
    tag: str
    secretary: str
    users: list[int]  # phone i is users[i]
    volunteers: list[int]
    orders: list[int]
    timer_orders: list[int]
    gap_orders: list[int]


def seed(size: Size, tag: str) -> World:
    from accounts.models import ResidentProfile, User
    from orders import services
    from volunteers.models import Area, Branch, Volunteer

    # Away from the demo city (its grids have polygons, which win over the nearest centre) and
    # from other runs' worlds in the same database: each run's orders route to its own branch.
    lat, lng = 31.2300 + random.random() * 0.5, 122.5 + random.random() * 0.5
    street = Area.objects.create(name=f"{tag} street", level="street", center_lat=lat, center_lng=lng)
    community = Area.objects.create(name=f"{tag} c", level="community", parent=street, center_lat=lat, center_lng=lng)
    grid = Area.objects.create(name=f"{tag} grid", level="grid", parent=community, center_lat=lat, center_lng=lng)
    branch = Branch.objects.create(name=f"{tag} branch", area=grid)
    secretary = User.objects.create_user(f"{tag}-secretary", password=PASSWORD)
    branch.secretaries.add(secretary)
    resident = User.objects.create_user(f"{tag}-resident", password=PASSWORD)
    ResidentProfile.objects.create(user=resident, phone="13900000000", address="1 Road", lat=lat, lng=lng, grid=grid)
    users = User.objects.bulk_create([User(username=f"{tag}-v{i}", password=UNUSABLE) for i in range(size.phones)])
    vols = Volunteer.objects.bulk_create(
        [
            Volunteer(
                user=u,
                base_lat=lat + (i % 50) * 0.0002,
                base_lng=lng,
                on_duty=True,
                # Claimers claim every offer: room for all of them.
                capacity=500 if i < size.claimers else 5,
                service_radius_km=10,
            )
            for i, u in enumerate(users)
        ]
    )
    Volunteer.branches.through.objects.bulk_create(
        [Volunteer.branches.through(volunteer_id=v.pk, branch_id=branch.pk) for v in vols]
    )
    ids = []
    for n in range(size.orders + size.timer_orders + size.gap_orders):
        order, _ = services.order_submit(
            resident=resident, data=services.OrderInput(category="errands", description=f"{tag} order {n}")
        )
        services.order_accept(order_id=order.pk, user=secretary)
        ids.append(order.pk)
    a, b = size.orders, size.orders + size.timer_orders
    return World(tag, secretary.username, [u.pk for u in users], [v.pk for v in vols], ids[:a], ids[a:b], ids[b:])


def tickets(user_ids: list[int]) -> list[str]:
    from django.db import close_old_connections
    from django.utils import timezone

    from notifications.models import RealtimeTicket

    tokens = [secrets.token_urlsafe(32) for _ in user_ids]
    RealtimeTicket.objects.bulk_create(
        [
            RealtimeTicket(
                key=hashlib.sha256(t.encode()).hexdigest(), user_id=u, expires_at=timezone.now() + timedelta(hours=1)
            )
            for t, u in zip(tokens, user_ids, strict=True)
        ]
    )
    close_old_connections()
    return tokens


# --- REST through HAProxy ------------------------------------------------------------------------


def http(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310 - the cluster's own address
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-Session-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the cluster's own address
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:300]
    except OSError as exc:  # the connection died with a host
        return 0, str(exc)


# --- phones --------------------------------------------------------------------------------------


class Phone:
    """A volunteer's app: one socket, reconnecting through HAProxy and resuming from its last id."""

    def __init__(self, n: int, user_id: int, *, claimer: bool, base_ws: str, stock: TicketStock) -> None:
        self.n, self.user_id, self.claimer = n, user_id, claimer
        self.base_ws, self.stock = base_ws, stock
        self.baseline: int | None = None  # the hello cursor of the first connection
        self.last = 0
        self.seen: set[int] = set()
        self.duplicates = 0  # a live frame with an id this phone already had
        self.repeats_replayed = 0  # a resume's frame with an id it already had
        self.replaying = False
        self.after_replay: list[int] = []  # ids replayed by `resumed` counts (per reconnect)
        self.hosts: list[str] = []
        self.reconnects = 0
        self.failed_connects = 0
        self.resyncs = 0
        self.errors: Counter[str] = Counter()
        self.close_codes: Counter[int] = Counter()
        self.offers: set[int] = set()  # orders offered to this phone
        self.pending: dict[str, int] = {}  # claim ref → order, not answered yet
        self.results: dict[str, list[bool]] = {}
        self.retried: set[str] = set()
        self.asked_again: set[str] = set()  # claims asked again after the answer's timeout
        # What happened to each claim, for the ones that had to be asked again: when it went out
        # and on which connection, which connections closed (with their codes) and resumed.
        self.trace: list[tuple[float, str]] = []
        # The same in wall-clock time, with each event's arrival, to set beside the outbox's
        # created_at and pushed_at when an event is missing.
        self.story: list[tuple[float, str]] = []
        self.connected = asyncio.Event()
        self.ws: Any = None
        self.stopping = False
        self.reconnect_now = False
        self.task = asyncio.create_task(self.run())

    @property
    def host(self) -> str | None:
        return self.hosts[-1] if self.hosts else None

    async def run(self) -> None:
        import websockets

        backoff = 0.2
        while not self.stopping:
            ticket = await self.stock.take(self.user_id)
            query = f"ticket={ticket}" + (f"&after={self.last}" if self.baseline is not None else "")
            try:
                ws = await websockets.connect(
                    f"{self.base_ws}/ws/?{query}",
                    origin=self.base_ws.replace("ws://", "http://"),
                    open_timeout=60,
                    ping_interval=None,
                    compression=None,
                    max_queue=None,
                )
            except Exception:
                self.failed_connects += 1
                await asyncio.sleep(backoff + random.random() * backoff)
                backoff = min(2.0, backoff * 2)
                continue
            backoff = 0.2
            self.hosts.append(ws.response.headers.get("X-Sandan-Host", "?"))
            self.note(f"connected #{len(self.hosts)} to {self.host}")
            after = self.last if self.baseline is not None else "-"
            self.story.append((time.time(), f"#{len(self.hosts)} {self.host} after={after}"))
            self.replaying = self.baseline is not None
            self.ws = ws
            try:
                async for raw in ws:
                    await self.handle(json.loads(raw))
            except websockets.ConnectionClosed:
                pass
            finally:
                self.ws = None
                self.connected.clear()
                if ws.close_code is not None:
                    self.close_codes[ws.close_code] += 1
                self.story.append((time.time(), f"closed #{len(self.hosts)} {ws.close_code}"))
                self.note(f"closed #{len(self.hosts)} ({ws.close_code})")
            if self.stopping:
                break
            self.reconnects += 1
            await asyncio.sleep(0.1 + random.random() * 0.5)

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "hello":
            if self.baseline is None:
                self.baseline = self.last = frame["cursor"]
                self.connected.set()
        elif kind == "resumed":
            self.replaying = False
            self.story.append((time.time(), f"resumed {frame['count']}"))
            self.after_replay.append(frame["count"])
            self.note(f"resumed #{len(self.hosts)}, resending {sorted(self.pending)}")
            self.connected.set()
            for ref, order in list(self.pending.items()):
                # Its answer may have died with the host: ask again, same ref (a retried tap).
                self.retried.add(ref)
                await self.send({"type": "claim", "order": order, "ref": ref})
        elif kind == "resync":
            self.resyncs += 1
        elif kind == "event":
            event_id = frame["id"]
            if event_id in self.seen:
                # Dropped by id, as the protocol asks of every client (docs/realtime.md): the app
                # shows it once. Counted by where the repeat came from.
                if self.replaying:
                    self.repeats_replayed += 1
                else:
                    self.duplicates += 1
                return
            self.seen.add(event_id)
            self.last = max(self.last, event_id)
            self.story.append((time.time(), f"{'replayed' if self.replaying else 'live'} {event_id}"))
            if frame["kind"] == "offer.new":
                self.offers.add(frame["payload"]["order"])
            if frame["kind"] == "offer.new" and self.claimer:
                order = frame["payload"]["order"]
                ref = f"o{order}"
                self.pending[ref] = order
                await self.send({"type": "claim", "order": order, "ref": ref})
        elif kind == "claim.result":
            self.note(f"answer {frame['ref']} ok={frame['ok']} on #{len(self.hosts)}")
            self.results.setdefault(frame["ref"], []).append(bool(frame["ok"]))
            self.pending.pop(frame["ref"], None)
        elif kind == "error":
            self.errors[frame.get("code", "?")] += 1
            self.note(f"error {frame.get('code')} ref={frame.get('ref')} on #{len(self.hosts)}")

    def note(self, what: str) -> None:
        self.trace.append((time.monotonic(), what))

    async def send(self, frame: dict[str, Any]) -> None:
        ws = self.ws
        if ws is None:
            self.note(f"not sent {frame.get('ref')}: no socket")
            return  # not connected: the claim stays pending and goes again after the resume
        try:
            await ws.send(json.dumps(frame))
        except Exception as exc:  # closing: the same
            self.note(f"not sent {frame.get('ref')} on #{len(self.hosts)}: {type(exc).__name__}")
            return
        if frame.get("type") == "claim":
            self.note(f"sent {frame['ref']} on #{len(self.hosts)}")

    async def reconnect(self) -> None:
        if self.ws is not None:
            self.connected.clear()
            await self.ws.close()

    async def stop(self) -> None:
        self.stopping = True
        if self.ws is not None:
            await self.ws.close()
        self.task.cancel()


class TicketStock:
    """Single-use tickets, made in the database in batches (what the app's REST call does)."""

    def __init__(self, users: list[int], per_user: int = 3) -> None:
        self.users = users
        self.stock: dict[int, list[str]] = {u: [] for u in users}
        self.lock = asyncio.Lock()
        self.per_user = per_user

    async def fill(self) -> None:
        batch = [u for u in self.users for _ in range(self.per_user)]
        tokens = await asyncio.to_thread(tickets, batch)
        for u, t in zip(batch, tokens, strict=True):
            self.stock[u].append(t)

    async def take(self, user: int) -> str:
        if not self.stock[user]:
            async with self.lock:
                if not self.stock[user]:
                    for t in await asyncio.to_thread(tickets, [user] * 4):
                        self.stock[user].append(t)
        return self.stock[user].pop()


# --- the checks ----------------------------------------------------------------------------------


@dataclass
class Report:
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def figure(self, name: str, value: Any) -> None:
        self.figures[name] = value
        print(f"  {name}: {value}", flush=True)

    def check(self, ok: bool, what: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}", flush=True)
        if not ok:
            self.failures.append(what)


def outbox_of(user_ids: list[int], above: dict[int, int]) -> dict[int, set[int]]:
    from django.db import close_old_connections

    from notifications.models import Event

    low = min(above.values()) if above else 0
    rows = Event.objects.filter(recipient_id__in=user_ids, id__gt=low).values_list("recipient_id", "id")
    got: dict[int, set[int]] = {u: set() for u in user_ids}
    for user, event in rows:
        if event > above[user]:
            got[user].add(event)
    close_old_connections()
    return got


async def offer_to_pool(
    base: str, desk: str, order: int, pool: list[int], vol_of: dict[int, int], by_user: dict[int, Phone]
) -> float | None:
    """Dispatch `order` to the pool of users `pool` as the desk does; the seconds until every
    one of their phones has the offer (30 s at most), or None if the dispatch was refused."""
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
        return None
    deadline = time.monotonic() + 30
    while not all(order in by_user[u].offers for u in pool) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    return time.perf_counter() - t0


async def ask_again(phones: list[Phone], seconds: float = 40.0, patience: float = 5.0) -> None:
    """A claim whose answer has not come `patience` seconds after the socket settled is asked
    again with the same ref, as the app does after its timeout ("a clear retry"): the server
    answers a repeated ref as it answered the first (the winner `ok` again, the others not).
    An answer can be lost when the socket closes between the tap and the reply (a host or a
    Redis shard going away closes it) and the phone's resend went out on a socket that was
    closed again in turn; the count of these is printed beside the result."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(p.pending for p in phones):
        await asyncio.sleep(patience)
        for p in phones:
            for ref, order in list(p.pending.items()):
                p.asked_again.add(ref)
                await p.send({"type": "claim", "order": order, "ref": ref})


async def settle(phones: list[Phone], deadline: float) -> dict[int, set[int]]:
    """Wait until every phone has its whole outbox (or the deadline); returns what is missing."""
    above = {p.user_id: p.baseline or 0 for p in phones}
    while True:
        expected = await asyncio.to_thread(outbox_of, [p.user_id for p in phones], above)
        missing = {p.user_id: expected[p.user_id] - p.seen for p in phones}
        missing = {u: ids for u, ids in missing.items() if ids}
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(1)


def orders_state(ids: list[int]) -> dict[str, Any]:
    from django.db import close_old_connections

    from orders.models import Order

    rows = list(Order.objects.filter(pk__in=ids).values_list("pk", "status", "volunteer__user_id"))
    close_old_connections()
    return {"status": Counter(s for _, s, _ in rows), "volunteer": {pk: u for pk, _, u in rows}}


def age_offers(ids: list[int]) -> None:
    """The offers of `ids` were made longer ago than the SLA allows: the workers widen them.
    (Waiting the real ten minutes would say nothing more.)"""
    from django.conf import settings
    from django.db import close_old_connections
    from django.utils import timezone

    from orders.models import Offer

    ago = timezone.now() - timedelta(minutes=settings.SANDAN_TIMERS["OFFER_MINUTES"] + 1)
    Offer.objects.filter(order_id__in=ids, status=Offer.Status.OPEN).update(created_at=ago)
    close_old_connections()


def timer_state(ids: list[int]) -> dict[str, Any]:
    from django.db import close_old_connections

    from orders.models import OrderEvent
    from timers.models import Step, TimerStep

    steps = list(TimerStep.objects.filter(order_id__in=ids, step=Step.OFFER_WIDEN).values("order_id", "state", "owner"))
    widened = Counter(OrderEvent.objects.filter(order_id__in=ids, action="widen").values_list("order_id", flat=True))
    close_old_connections()
    return {"steps": steps, "widened": widened}


# --- the scenario --------------------------------------------------------------------------------


async def scenario(cluster: Cluster, world: World, size: Size, report: Report) -> None:
    base, base_ws = cluster.url, cluster.url.replace("http://", "ws://")
    status, body = await asyncio.to_thread(
        http, base, "POST", "/_allauth/app/v1/auth/login", {"username": world.secretary, "password": PASSWORD}
    )
    if status != 200:
        raise RuntimeError(f"the desk cannot sign in: {status} {body}")
    desk = body["meta"]["session_token"]

    # 1. Phones connect through HAProxy.
    print(f"1. {size.phones} phones connect through HAProxy", flush=True)
    stock = TicketStock(world.users)
    await stock.fill()
    t0 = time.perf_counter()
    phones = []
    for i, user in enumerate(world.users):
        phones.append(Phone(i, user, claimer=i < size.claimers, base_ws=base_ws, stock=stock))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # phones come online over a moment, not in one instant
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in phones)), 180)
    report.figure("phones connected", f"{len(phones)} in {time.perf_counter() - t0:.1f} s")
    report.figure("phones by host", dict(sorted(Counter(p.host for p in phones).items())))
    claimers = [p for p in phones if p.claimer]
    claimer_hosts = Counter(p.host for p in claimers)
    report.figure("claimers by host", dict(sorted(claimer_hosts.items())))
    report.check(len(claimer_hosts) == cluster.hosts, "claimers sit on every host")
    others = [p for p in phones if not p.claimer]
    by_vol = dict(zip(world.users, world.volunteers, strict=True))

    rest: Counter[str] = Counter()

    async def dispatch(order: int, pool: list[Phone]) -> None:
        body = {"mode": "pool", "volunteers": [by_vol[p.user_id] for p in pool]}
        for _attempt in range(20):
            status, answer = await asyncio.to_thread(http, base, "POST", f"/api/v1/orders/{order}/dispatch", body, desk)
            rest[str(status)] += 1
            if status == 200:
                return
            if os.environ.get("CLUSTER_VERBOSE"):
                print(f"    dispatch {order}: {status} {str(answer)[:160]}", flush=True)
            state = await asyncio.to_thread(orders_state, [order])
            if state["status"].get("accepted", 0) == 0:
                return  # it went through; only the answer died with a host
            await asyncio.sleep(0.5)
        raise RuntimeError(f"order {order} could not be dispatched: {status} {answer}")

    rotation = iter(range(10**9))

    def pool_for(with_claimers: bool) -> list[Phone]:
        start = next(rotation) * size.others
        extra = [others[(start + k) % len(others)] for k in range(size.others)]
        return (claimers if with_claimers else []) + extra

    async def dispatch_all(orders: list[int], *, with_claimers: bool = True, concurrency: int = 3) -> None:
        queue = list(orders)

        async def lane() -> None:
            while queue:
                await dispatch(queue.pop(0), pool_for(with_claimers))

        await asyncio.gather(*(lane() for _ in range(concurrency)))

    # 2. Pool races.
    half = len(world.orders) // 2
    print(f"2. {len(world.orders)} orders to pools of {size.claimers} claimers (+{size.others} others)", flush=True)
    t0 = time.perf_counter()
    await dispatch_all(world.orders[:half])
    # The timer orders go to phones that never claim: nobody takes them, the SLA will.
    await dispatch_all(world.timer_orders, with_claimers=False)

    # 3. A host is lost in the middle of offers, claims and timer steps.
    print(f"3. host {KILLED} killed (SIGKILL) in the middle of offers, claims and timers", flush=True)
    await asyncio.to_thread(age_offers, world.timer_orders)
    second = asyncio.create_task(dispatch_all(world.orders[half:]))
    ok_before = rest["200"]
    while rest["200"] - ok_before < (len(world.orders) - half) // 4:
        await asyncio.sleep(0.05)
    on_killed = [p for p in phones if p.host == f"host{KILLED}"]
    killed_at = time.monotonic()
    pids = kill_host(cluster, KILLED)

    report.figure("killed", f"host{KILLED}: PIDs {pids}, {len(on_killed)} phones on it")
    down_after = None
    while time.monotonic() - killed_at < 30:
        if haproxy_states(cluster).get(f"host{KILLED}", "").startswith("DOWN"):
            down_after = time.monotonic() - killed_at
            break
        await asyncio.sleep(0.1)
    report.figure("HAProxy marked it down after", f"{down_after:.1f} s" if down_after is not None else "never")
    report.check(down_after is not None, "HAProxy marks the killed host down")
    await second
    report.figure("orders dispatched", f"{len(world.orders)} in {time.perf_counter() - t0:.1f} s; REST {dict(rest)}")
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in on_killed)), 120)
    report.figure("its phones now on", dict(sorted(Counter(p.host for p in on_killed).items())))
    report.check(all(p.host != f"host{KILLED}" for p in on_killed), "the killed host's phones resumed on survivors")

    # Converge: every order claimed, every timer step done, every outbox delivered.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = await asyncio.to_thread(orders_state, world.orders)
        timers = await asyncio.to_thread(timer_state, world.timer_orders)
        done = [s for s in timers["steps"] if s["state"] == "done"]
        if state["status"].get("claimed", 0) == len(world.orders) and len(done) >= len(world.timer_orders):
            break
        await asyncio.sleep(1)
    missing = await settle(phones, time.monotonic() + 60)
    await ask_again(phones)
    await asyncio.to_thread(check_claims, world, phones, report)
    await asyncio.to_thread(check_timers, world, cluster, report)
    await asyncio.to_thread(check_events, phones, missing, report, "after the host was lost")

    # 4. A Redis shard restarts while the desk works.
    print(f"4. Redis shard {SHARD} (channel layer and cache) restarted, {size.gap:.0f} s away", flush=True)
    rest.clear()
    me: Counter[int] = Counter()
    restart = threading.Thread(target=restart_redis, args=(cluster, SHARD), kwargs={"down_seconds": size.gap})
    restart.start()
    await asyncio.sleep(0.3)

    async def reads_during_gap() -> None:
        while restart.is_alive():
            status, _ = await asyncio.to_thread(http, base, "GET", "/api/v1/me", None, desk)
            me[status] += 1
            await asyncio.sleep(0.1)

    reader = asyncio.create_task(reads_during_gap())
    await dispatch_all(world.gap_orders, concurrency=1)
    await asyncio.to_thread(restart.join)
    await reader
    report.figure("REST during the gap", f"GET /api/v1/me {dict(me)}; dispatch {dict(rest)}")
    report.check(set(me) == {200} and set(rest) == {"200"}, "REST stays up while a shard is away")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = await asyncio.to_thread(orders_state, world.gap_orders)
        if state["status"].get("claimed", 0) == len(world.gap_orders):
            break
        await asyncio.sleep(1)
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in phones)), 120)
    missing = await settle(phones, time.monotonic() + 60)
    state = await asyncio.to_thread(orders_state, world.gap_orders)
    report.check(state["status"].get("claimed", 0) == len(world.gap_orders), "the gap's orders were claimed")
    await ask_again(phones)
    await asyncio.to_thread(check_claims, world, phones, report, world.gap_orders)
    await asyncio.to_thread(check_events, phones, missing, report, "after the shard restart")

    # 5. The host comes back: nothing old is replayed as new.
    print(f"5. host {KILLED} comes back", flush=True)
    await asyncio.to_thread(start_host, cluster, KILLED)
    deadline = time.monotonic() + 30
    while haproxy_states(cluster).get(f"host{KILLED}") != "UP" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    report.check(haproxy_states(cluster).get(f"host{KILLED}") == "UP", "HAProxy takes the host back")
    before = {p.user_id: (len(p.seen), p.duplicates, len(p.after_replay)) for p in phones}
    movers = phones[: len(phones) // 3]
    for p in movers:
        await p.reconnect()
    await asyncio.sleep(1)
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in movers)), 120)
    await asyncio.sleep(3)  # its worker's relay passes
    landed = Counter(p.host for p in movers)
    report.figure("reconnected phones by host", dict(sorted(landed.items())))
    replayed = sum(sum(p.after_replay[before[p.user_id][2] :]) for p in movers)
    new_events = sum(len(p.seen) - before[p.user_id][0] for p in phones)
    new_dupes = sum(p.duplicates - before[p.user_id][1] for p in phones)
    report.figure("resent on resume to phones that had it all (dropped by id)", replayed)
    report.check(landed.get(f"host{KILLED}", 0) > 0, "some phones landed on the returned host")
    # A resume may resend a few rows the phone has (those pushed after its last one: see
    # notifications.realtime), which it drops by id; nothing may arrive as new, or live twice.
    report.check(new_events == 0 and new_dupes == 0, "the returned host replays nothing old as new")

    report.figure("reconnects", sum(p.reconnects for p in phones))
    report.figure("failed connects (while a host or shard was away)", sum(p.failed_connects for p in phones))
    report.figure("close codes", dict(sum((p.close_codes for p in phones), Counter())))
    report.figure("error frames", dict(sum((p.errors for p in phones), Counter())))
    for p in phones:
        await p.stop()


def check_claims(world: World, phones: list[Phone], report: Report, orders: list[int] | None = None) -> None:
    orders = world.orders if orders is None else orders
    state = orders_state(orders)
    winners: dict[int, set[int]] = {o: set() for o in orders}
    answers = 0
    for p in phones:
        for ref, oks in p.results.items():
            order = int(ref[1:])
            if order in winners:
                answers += 1
                if any(oks):
                    winners[order].add(p.user_id)
    unanswered = sum(1 for p in phones for ref in p.pending if int(ref[1:]) in winners)
    retried = sum(1 for p in phones for ref in p.retried if int(ref[1:]) in winners)
    asked_again = sum(1 for p in phones for ref in p.asked_again if int(ref[1:]) in winners)
    several = sum(1 for w in winners.values() if len(w) > 1)
    none = sum(1 for w in winners.values() if not w)
    wrong = sum(1 for o, w in winners.items() if len(w) == 1 and next(iter(w)) != state["volunteer"][o])
    report.figure(
        f"claims over {len(orders)} orders",
        f"{answers} answered, {retried} sent again after a reconnect, {asked_again} asked again after "
        f"the answer's timeout, {unanswered} unanswered; "
        f"orders by status {dict(state['status'])}",
    )
    report.check(
        several == 0 and none == 0 and wrong == 0,
        f"exactly one winner per order ({several} with several, {none} with none, {wrong} not the order's volunteer)",
    )
    report.check(unanswered == 0, "every claim got its answer (or its retry did)")
    # The story of the first few claims that had to be asked again (or are still unanswered).
    stories = [(p, ref) for p in phones for ref in sorted(p.asked_again | set(p.pending)) if int(ref[1:]) in winners]
    for p, ref in stories[:3]:
        print(f"    phone {p.n}, claim {ref}:\n      " + "\n      ".join(claim_story(p.trace, ref)), flush=True)
    report.check(state["status"].get("claimed", 0) == len(orders), "0 orders stuck")


def claim_story(trace: list[tuple[float, str]], ref: str, limit: int = 25) -> list[str]:
    """A claim's lines of a phone's trace, with its connections' comings and goings, timed from
    the claim's first line."""
    start = next((t for t, what in trace if ref in what), None)
    if start is None:
        return ["(never sent)"]
    return [
        f"{t - start:+.2f}s {what}"
        for t, what in trace
        if t >= start - 0.5 and (ref in what or what.startswith(("connected", "closed", "resumed")))
    ][:limit]


def check_timers(world: World, cluster: Cluster, report: Report) -> None:
    state = timer_state(world.timer_orders)
    steps, widened = state["steps"], state["widened"]
    per_order = Counter(s["order_id"] for s in steps)
    leased = [s for s in steps if s["state"] != "done"]
    # A worker's name is hostname:pid:...; the namespaces share the hostname, the PIDs say which host.
    roles = {str(pid): role for role, pid in cluster.pids.items()} | {
        str(pid): f"worker{KILLED} (killed)" for pid in cluster.killed
    }
    owners = Counter(roles.get((s["owner"] or "?:?").split(":")[1], "?") for s in steps)
    report.figure("widening steps", f"{len(steps)} for {len(world.timer_orders)} orders, by worker host {dict(owners)}")
    report.check(
        all(per_order[o] == 1 and widened[o] == 1 for o in world.timer_orders) and not leased,
        "every timer step fired exactly once (none left leased)",
    )


def explain_missing(phones: list[Phone], missing: dict[int, set[int]]) -> None:
    from django.db import close_old_connections

    from notifications.models import Event

    by_user = {p.user_id: p for p in phones}
    for user, ids in list(missing.items())[:10]:
        p = by_user[user]
        for e in Event.objects.filter(pk__in=ids):
            print(
                f"    missing #{e.pk} {e.kind} order {e.order_id} for phone {p.n} (hosts {p.hosts}, last {p.last}, "
                f"replays {p.after_replay}) created {e.created_at:%H:%M:%S.%f} "
                f"pushed {e.pushed_at and f'{e.pushed_at:%H:%M:%S.%f}'}"
                f" seen above it: {sorted(i for i in p.seen if i > e.pk)[:3]}",
                flush=True,
            )
        # What this phone went through around those events (wall clock, as created_at/pushed_at).
        first = min(e.created_at.timestamp() for e in Event.objects.filter(pk__in=ids))
        near = [f"{datetime.fromtimestamp(t, UTC):%H:%M:%S.%f} {what}" for t, what in p.story if abs(t - first) < 6]
        print(f"    phone {p.n} around then: " + "; ".join(near[:60]), flush=True)
    close_old_connections()


def check_events(phones: list[Phone], missing: dict[int, set[int]], report: Report, when: str) -> None:
    if missing:
        explain_missing(phones, missing)
    received = sum(len(p.seen) for p in phones)
    lost = sum(len(ids) for ids in missing.values())
    dupes = sum(p.duplicates for p in phones)
    resyncs = sum(p.resyncs for p in phones)
    repeats = sum(p.repeats_replayed for p in phones)
    report.figure(
        f"events {when}",
        f"{received} received, {lost} lost, {dupes} duplicated live, {resyncs} resyncs; "
        f"{repeats} replayed again on resume (dropped by id)",
    )
    report.check(lost == 0 and dupes == 0 and resyncs == 0, f"0 events lost or duplicated {when}")


def run(cluster: Cluster, size: Size) -> Report:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    setup_django(cluster)
    report = Report()
    tag = f"c{secrets.token_hex(3)}"
    t0 = time.perf_counter()
    world = seed(size, tag)
    total = len(world.orders) + len(world.timer_orders) + len(world.gap_orders)
    print(
        f"seeded {tag}: {size.phones} volunteers, {total} orders in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    asyncio.run(scenario(cluster, world, size, report))
    print("FAILED: " + "; ".join(report.failures) if report.failures else "all checks passed", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="the CI size")
    parser.add_argument("--phones", type=int)
    parser.add_argument("--orders", type=int)
    parser.add_argument("--claimers", type=int)
    parser.add_argument("--tag", default="sdc", help="the cluster (deploy/cluster.py --tag)")
    parser.add_argument("--subnet", default="10.231.77")
    parser.add_argument("--database", default="sandan_cluster")
    parser.add_argument("--keep", action="store_true", help="leave a cluster this run started up")
    args = parser.parse_args()
    size = SMALL if args.small else Size()
    for name in ("phones", "orders", "claimers"):
        if getattr(args, name):
            setattr(size, name, getattr(args, name))
    cluster = Cluster.load(args.tag)
    started = cluster is None or not cluster.pids
    if started:
        cluster = up(Cluster(tag=args.tag, subnet=args.subnet, database=args.database, extra_env=BENCH_ENV))
    assert cluster is not None
    try:
        report = run(cluster, size)
    finally:
        if started and not args.keep:
            down(cluster)
    sys.exit(1 if report.failures else 0)


# The claimers are bots that claim every offer in the city: more frames than a phone may send.
BENCH_ENV = {"REALTIME_FRAMES_PER_SECOND": "100", "REALTIME_FRAME_BURST": "200"}


if __name__ == "__main__":
    main()
