"""Benchmark of the realtime path (not a test): prints figures, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x REDIS_URL=redis://127.0.0.1:6379/3 \
        .venv/bin/python bench/realtime.py [--sockets 2000] [--pool 20] [--rounds 30] [--warmup 10] \
        [--fanout 1000] [--fanout-rounds 10] [--layers pubsub,core]

Loopback only, on PostgreSQL and Redis. In a dedicated database (`sandan_bench_realtime` on the
DATABASE_URL server, dropped and created anew) it loads one branch with `--sockets` volunteers,
a secretary and a resident with `--rounds` accepted orders per layer. Then, for each channel
layer in `--layers` (Redis pub/sub and the core Redis layer), a child process starts two real
daphne processes, ours (`project.asgi`) and a bare Channels consumer that only forwards
(`bench/realtime_bare.py`), and measures with `websockets` clients:

- storm: `--sockets` volunteers open /ws/?ticket=… all at once: seconds until every `hello`,
  handshake errors;
- memory per idle socket: RSS growth of our daphne process / sockets;
- pool offer: with every socket connected, the desk dispatches (POST /api/v1/orders/{id}/dispatch,
  mode pool) to `--pool` of them: time from the request until the offer is on the last phone;
  after `--warmup` rounds that are not counted (the first garbage collection through the
  storm's objects, prepared statements), so the figures are the steady state;
- claim: one of them sends `claim` over its socket: time until `claim.result`;
- fan-out: one event published (outbox rows + push, as `notifications.events.publish` does) to
  `--fanout` of our sockets, until the last one has it; the same fan-out through the bare
  consumer, one group per socket as ours (the like-for-like ratio), and through one shared group
  (the floor, for reference), alternating in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "sandan_bench_realtime"
ORIGIN = "http://127.0.0.1"
PASSWORD = "bench-realtime-pw"  # noqa: S105 - a throwaway account in a throwaway database
UNUSABLE = "!"  # Django's mark for "no password": volunteers sign in by ticket only
LAYERS = {
    "pubsub": "notifications.layers.PubSubChannelLayer",  # channels-redis pub/sub + batch send
    "core": "channels_redis.core.RedisChannelLayer",
}


# --- set-up --------------------------------------------------------------------------------------


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/realtime.py needs PostgreSQL and Redis: set DATABASE_URL=postgres://… and REDIS_URL")
    return url.rsplit("/", 1)[0]


def _env(layer: str | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"{_server_url()}/{DB_NAME}",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SANDAN_EMBEDDED_WORKER": "0",
        # As in production: with DEBUG on, Django formats and keeps every query it runs.
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        # As in production: PostgreSQL through the per-process pool (project/settings.py).
        "DB_CONN_MAX_AGE": "0",
        "REALTIME_TICKET_SECONDS": "600",
        "ORDER_SUBMIT_RATE": "100000/hour",
    }
    if layer:
        env["CHANNEL_BACKEND"] = LAYERS[layer]
    return env


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect(_server_url() + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _seed(volunteers: int, orders: int) -> dict[str, Any]:
    from accounts.models import ResidentProfile, User
    from orders import services
    from volunteers.models import Area, Branch, Volunteer

    lat, lng = 31.2300, 121.4700
    street = Area.objects.create(name="Bench street", level="street", center_lat=lat, center_lng=lng)
    community = Area.objects.create(
        name="Bench community", level="community", parent=street, center_lat=lat, center_lng=lng
    )
    grid = Area.objects.create(name="Bench grid", level="grid", parent=community, center_lat=lat, center_lng=lng)
    branch = Branch.objects.create(name="Bench branch", area=grid)
    secretary = User.objects.create_user("bench-secretary", password=PASSWORD)
    branch.secretaries.add(secretary)
    resident = User.objects.create_user("bench-resident", password=PASSWORD)
    ResidentProfile.objects.create(
        user=resident, phone="13900000000", address="1 Bench Road", lat=lat, lng=lng, grid=grid
    )
    users = User.objects.bulk_create([User(username=f"bench-v{i}", password=UNUSABLE) for i in range(volunteers)])
    vols = Volunteer.objects.bulk_create(
        [
            Volunteer(
                user=u, base_lat=lat + (i % 50) * 0.0002, base_lng=lng, on_duty=True, capacity=5, service_radius_km=10
            )
            for i, u in enumerate(users)
        ]
    )
    Volunteer.branches.through.objects.bulk_create(
        [Volunteer.branches.through(volunteer_id=v.pk, branch_id=branch.pk) for v in vols]
    )
    order_ids = []
    for n in range(orders):
        order, _ = services.order_submit(
            resident=resident, data=services.OrderInput(category="errands", description=f"Bench order {n}")
        )
        services.order_accept(order_id=order.pk, user=secretary)
        order_ids.append(order.pk)
    return {"users": [u.pk for u in users], "volunteers": [v.pk for v in vols], "orders": order_ids}


def _tickets(user_ids: list[int]) -> list[str]:
    from django.utils import timezone

    from notifications.models import RealtimeTicket

    tokens = [secrets.token_urlsafe(32) for _ in user_ids]
    expires = timezone.now() + timedelta(minutes=10)
    RealtimeTicket.objects.bulk_create(
        [
            RealtimeTicket(key=hashlib.sha256(t.encode()).hexdigest(), user_id=uid, expires_at=expires)
            for t, uid in zip(tokens, user_ids, strict=True)
        ]
    )
    return tokens


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daphne(app: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    extra = ["--websocket_connect_timeout", env["BENCH_CONNECT_TIMEOUT"]] if env.get("BENCH_CONNECT_TIMEOUT") else []
    return subprocess.Popen(
        [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port), *extra, app],
        cwd=ROOT,
        env=env,
        stdout=(Path(tempfile.gettempdir()) / f"sandan-bench-daphne-{port}.log").open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait_port(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with closing(socket.create_connection(("127.0.0.1", port), timeout=0.5)):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _http(port: int, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-Session-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback http only
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:200]


def _freeze_gc() -> None:
    """Keep the measuring process's garbage collector out of the figures: its own full
    collections over 2,000 client sockets (300–400 ms each) stamped frames late."""
    gc.collect()
    gc.freeze()
    gc.disable()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"p50": round(_pct(ms, 50), 1), "p95": round(_pct(ms, 95), 1), "p99": round(_pct(ms, 99), 1), "n": len(ms)}


# --- clients ---------------------------------------------------------------------------------------


class Phone:
    """One websockets client; a reader task stamps the arrival of every frame it cares about."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.arrivals: dict[tuple, float] = {}
        self.waiters: dict[tuple, asyncio.Future] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        import websockets

        try:
            async for raw in self.ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                key = _key(frame)
                if key is None or key in self.arrivals:
                    continue
                self.arrivals[key] = now
                waiter = self.waiters.pop(key, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(now)
        except websockets.ConnectionClosed:
            pass

    def wait(self, key: tuple) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if key in self.arrivals:
            future.set_result(self.arrivals[key])
        else:
            self.waiters[key] = future
        return future


def _key(frame: dict) -> tuple | None:
    kind = frame.get("kind") or frame.get("type")
    if kind == "offer.new":
        return ("offer", frame["payload"]["order"])
    if kind == "claim.result":
        return ("claim", frame["ref"])
    if kind in {"bench.fanout", "bare"}:
        return ("fanout", frame["payload"]["n"])
    return None


async def _open(uri: str) -> Any:
    import websockets

    return await websockets.connect(
        uri, origin=ORIGIN, open_timeout=120, ping_interval=None, compression=None, max_queue=None
    )


async def _storm(port: int, tokens: list[str], *, bare: bool = False) -> tuple[list[Phone | None], float, int, dict]:
    errors: dict[str, int] = {}

    async def one(token: str) -> Phone | None:
        try:
            if bare:
                return Phone(await _open(f"ws://127.0.0.1:{port}/ws/?g={token}"))
            ws = await _open(f"ws://127.0.0.1:{port}/ws/?ticket={token}")
            hello = json.loads(await asyncio.wait_for(ws.recv(), 120))
            if hello.get("type") != "hello":
                raise RuntimeError("no hello")
            return Phone(ws)
        except Exception as exc:
            name = exc.__class__.__name__
            errors[name] = errors.get(name, 0) + 1
            return None

    start = time.perf_counter()
    phones = await asyncio.gather(*(one(t) for t in tokens))
    seconds = time.perf_counter() - start
    return list(phones), seconds, sum(p is None for p in phones), errors


# --- one layer -------------------------------------------------------------------------------------


def run_layer(layer: str, args: argparse.Namespace, seeded: dict[str, Any], order_ids: list[int]) -> dict[str, Any]:
    env = _env(layer)
    env["CHANNEL_PREFIX"] = f"bench-{layer}-{uuid.uuid4().hex[:6]}"
    _setup_django(env)
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.db import transaction

    from notifications.events import publish

    ours_port, bare_port = _free_port(), _free_port()
    ours = _daphne("project.asgi:application", ours_port, env)
    bare = _daphne("bench.realtime_bare:application", bare_port, env)
    try:
        _wait_port(ours_port)
        _wait_port(bare_port)
        _status, body = _http(
            ours_port, "POST", "/_allauth/app/v1/auth/login", {"username": "bench-secretary", "password": PASSWORD}
        )
        desk_token = body["meta"]["session_token"]
        users, vols = seeded["users"][: args.sockets], seeded["volunteers"][: args.sockets]
        tokens = _tickets(users)
        time.sleep(1)
        rss_before = _rss_kb(ours.pid)

        async def scenario() -> dict[str, Any]:
            result: dict[str, Any] = {"layer": layer}
            # The same storm against the bare consumer first: what this machine does without us.
            bare_slots, bare_seconds, bare_failed, bare_errors = await _storm(
                bare_port, [f"s{i}" for i in range(len(tokens))], bare=True
            )
            result["bare_storm"] = {"seconds": round(bare_seconds, 2), "errors": bare_failed, "by_error": bare_errors}
            for phone in bare_slots:
                if phone is not None:
                    await phone.ws.close()
            await asyncio.sleep(3)
            slots, seconds, failed, errors = await _storm(ours_port, tokens)
            _freeze_gc()
            # Later phases use the volunteers whose socket is open, in seeded order.
            connected = [(v, u, p) for v, u, p in zip(vols, users, slots, strict=True) if p is not None]
            phones = [p for _, _, p in connected]
            live_vols = [v for v, _, _ in connected]
            live_users = [u for _, u, _ in connected]
            result["storm"] = {
                "sockets": len(tokens),
                "seconds": round(seconds, 2),
                "errors": failed,
                "by_error": errors,
            }
            await asyncio.sleep(2)
            rss_after = _rss_kb(ours.pid)
            result["rss_kb"] = {"before": rss_before, "after": rss_after}
            result["kb_per_socket"] = round((rss_after - rss_before) / max(1, len(phones)), 1)
            if failed:
                result["note"] = "storm had errors; later figures use the sockets that connected"

            bare_phones: list[Phone] = []
            try:
                # Pool offers and claims, with every socket connected.
                by_volunteer = dict(zip(live_vols, phones, strict=True))
                offer_lat, claim_lat = [], []
                pools = len(live_vols) // args.pool
                for r, order_id in enumerate(order_ids[: args.warmup + args.rounds]):
                    # Pools of volunteers in turn; past the last one, again from the first (the
                    # first of each pool claims, within the capacity of 5 the seed gives them).
                    at = r % pools
                    pool = live_vols[at * args.pool : (at + 1) * args.pool]
                    waits = [by_volunteer[v].wait(("offer", order_id)) for v in pool]
                    t0 = time.perf_counter()
                    status, body = await asyncio.to_thread(
                        _http,
                        ours_port,
                        "POST",
                        f"/api/v1/orders/{order_id}/dispatch",
                        {"mode": "pool", "volunteers": pool},
                        desk_token,
                    )
                    if status != 200:
                        raise RuntimeError(f"dispatch failed: {status} {body}")
                    arrived = await asyncio.wait_for(asyncio.gather(*waits), 60)
                    if r >= args.warmup:
                        offer_lat.append(max(arrived) - t0)
                    claimer = by_volunteer[pool[0]]
                    ref = f"c{order_id}"
                    waiter = claimer.wait(("claim", ref))
                    t1 = time.perf_counter()
                    await claimer.ws.send(json.dumps({"type": "claim", "order": order_id, "ref": ref}))
                    claimed = await asyncio.wait_for(waiter, 60) - t1
                    if r >= args.warmup:
                        claim_lat.append(claimed)
                    await asyncio.sleep(0.1)
                result["pool_offer_ms"] = _ms(offer_lat)
                result["claim_ms"] = _ms(claim_lat)

                # Fan-out: ours vs the bare consumer, alternating.
                fan_users = live_users[: args.fanout]
                fan_phones = phones[: args.fanout]
                for i in range(len(fan_users)):
                    bare_phones.append(Phone(await _open(f"ws://127.0.0.1:{bare_port}/ws/?g={i}")))
                _freeze_gc()
                await asyncio.sleep(1)
                layer_obj = get_channel_layer()
                sample = {
                    "type": "event",
                    "id": 0,
                    "kind": "bench.fanout",
                    "payload": {"n": 0},
                    "at": "2026-01-01T00:00:00+00:00",
                }
                ours_lat, bare_lat, shared_lat = [], [], []

                def publish_one(n: int) -> None:
                    with transaction.atomic():
                        publish(recipients=fan_users, kind="bench.fanout", payload={"n": n})

                def bare_send(n: int, shared: bool) -> None:
                    text = json.dumps({**sample, "kind": "bare", "payload": {"n": n}})

                    async def send() -> None:
                        if shared:
                            await layer_obj.group_send("bare.all", {"type": "bare.forward", "text": text})
                        else:
                            for i in range(len(fan_users)):
                                await layer_obj.group_send(f"bare.{i}", {"type": "bare.forward", "text": text})

                    async_to_sync(send)()

                for k in range(args.fanout_rounds):
                    for name, phones_, lat, fn in (
                        ("ours", fan_phones, ours_lat, lambda n: publish_one(n)),
                        ("bare", bare_phones, bare_lat, lambda n: bare_send(n, False)),
                        ("shared", bare_phones, shared_lat, lambda n: bare_send(n, True)),
                    ):
                        n = k * 10 + {"ours": 1, "bare": 2, "shared": 3}[name]
                        waits = [p.wait(("fanout", n)) for p in phones_]
                        t0 = time.perf_counter()
                        await asyncio.to_thread(fn, n)
                        arrived = await asyncio.wait_for(asyncio.gather(*waits), 60)
                        lat.append(max(arrived) - t0)
                        await asyncio.sleep(0.2)
                result["fanout_ms"] = {
                    "ours": _ms(ours_lat),
                    "bare_per_socket_group": _ms(bare_lat),
                    "bare_one_group": _ms(shared_lat),
                }
                result["fanout_ratio_p50"] = round(statistics.median(ours_lat) / statistics.median(bare_lat), 2)
                result["fanout_ratio_vs_one_group_p50"] = round(
                    statistics.median(ours_lat) / statistics.median(shared_lat), 2
                )
            except Exception as exc:  # a later phase failed: keep what was measured
                result["error"] = f"{exc.__class__.__name__}: {exc}"[:300]
            for p in [*phones, *bare_phones]:
                await p.ws.close()
            return result

        return asyncio.run(scenario())
    finally:
        for proc in (ours, bare):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


# --- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10, help="dispatch rounds before the measured ones")
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--fanout-rounds", type=int, default=10)
    parser.add_argument("--layers", default="pubsub,core")
    parser.add_argument(
        "--connect-timeout",
        type=int,
        default=30,
        help="daphne --websocket_connect_timeout, as in the Procfile (0: daphne's 5 s)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warmup + args.rounds > 5 * (args.sockets // args.pool):
        sys.exit("each volunteer claims at most 5 orders: --warmup + --rounds ≤ 5 × (--sockets / --pool)")

    if args.child:
        layer, seed_file = args.child.split(":", 1)
        seeded = json.loads(Path(seed_file).read_text())
        index = args.layers.split(",").index(layer)
        per_layer = args.warmup + args.rounds
        orders = seeded["orders"][index * per_layer : (index + 1) * per_layer]
        print(json.dumps(run_layer(layer, args, seeded, orders)))
        return

    layers = args.layers.split(",")
    if args.connect_timeout:
        os.environ["BENCH_CONNECT_TIMEOUT"] = str(args.connect_timeout)
    _server_url()
    _recreate_database()
    env = _env()
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    _setup_django(env)
    t = time.perf_counter()
    seeded = _seed(args.sockets, (args.warmup + args.rounds) * len(layers))
    from django.db import connection

    with connection.cursor() as cursor:
        # Planner statistics, as autovacuum keeps them in a database that has been running.
        cursor.execute("ANALYZE")
    orders = (args.warmup + args.rounds) * len(layers)
    print(f"seeded {args.sockets} volunteers and {orders} orders in {time.perf_counter() - t:.1f} s")
    seed_file = Path(tempfile.gettempdir()) / f"sandan-bench-realtime-{os.getpid()}.json"
    seed_file.write_text(json.dumps(seeded))
    results = []
    for layer in layers:
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--child", f"{layer}:{seed_file}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
        if child.returncode != 0 or not lines:
            print(f"[{layer}] failed:\n{child.stderr[-3000:]}")
            continue
        results.append(json.loads(lines[-1]))
    seed_file.unlink(missing_ok=True)

    print(
        f"\nsockets={args.sockets} pool={args.pool} rounds={args.rounds} (after {args.warmup} warm-up)"
        f" fanout={args.fanout}×{args.fanout_rounds}"
    )
    for r in results:
        print(f"\n== {r['layer']} ({LAYERS[r['layer']]})")
        s = r["storm"]
        print(
            f"storm: {s['sockets']} sockets in {s['seconds']} s, handshake errors {s['errors']} {s['by_error'] or ''}"
        )
        b = r["bare_storm"]
        print(f"  bare consumer, same storm: {b['seconds']} s, handshake errors {b['errors']} {b['by_error'] or ''}")
        print(
            f"memory per idle socket: {r['kb_per_socket']} KB (RSS {r['rss_kb']['before']} → {r['rss_kb']['after']} KB)"
        )
        if "pool_offer_ms" not in r:
            print(f"stopped: {r.get('error')}")
            continue
        print(f"pool offer to all {args.pool} (ms): {r['pool_offer_ms']}")
        print(f"claim round trip (ms): {r['claim_ms']}")
        if "fanout_ms" not in r:
            print(f"stopped: {r.get('error')}")
            continue
        f = r["fanout_ms"]
        print(f"fan-out to {args.fanout} (ms): ours {f['ours']}")
        print(
            f"  bare consumer, one group per socket: {f['bare_per_socket_group']}  → ratio p50 {r['fanout_ratio_p50']}×"
        )
        floor = r["fanout_ratio_vs_one_group_p50"]
        print(f"  bare consumer, one shared group:     {f['bare_one_group']}  → ratio p50 {floor}×")
        if r.get("note"):
            print(f"note: {r['note']}")


if __name__ == "__main__":
    main()
