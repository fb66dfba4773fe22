"""Load bench of the whole HTTP surface (not a test): prints figures, asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x REDIS_URL=redis://127.0.0.1:6379/20 \\
        .venv/bin/python bench/http_load.py [--processes 1,2] [--duration 8] [--connections 32] \\
        [--mix-connections 64] [--only floor,mix,...] [--fresh]

Needs wrk and HAProxy from Debian (`apt-get install wrk haproxy`), PostgreSQL and Redis.

The data: the database `sandan_bench_http_template` on the DATABASE_URL server holds the
demo city (`load_demo`: 16 branches, 320 volunteers, 60 residents, 520 past orders), every
volunteer on duty with room for many orders, a session for every user (its key is derived from
the user id, so a bench on another machine can rebuild it), and the orders the mix acts on:
accepted orders for the desks to dispatch and orders offered to volunteers for them to claim.
It is built once (`--fresh` builds it again); each server configuration then starts from a
copy of it, `sandan_bench_http`, so every run sees the same data.

For each configuration in `--processes` (1: one daphne process, `python -m project.serve`
with DEBUG off as in production, measured directly; 2: two of them behind HAProxy, which the
bench starts and stops itself), one wrk run per line below, each `--duration` seconds:

- floor: `GET /healthz`, a bare Django view returning a small JSON dict through the same
  middleware and server, at the start and at the end of the configuration (the mean is the
  floor the ratios divide by);
- each read alone, at `--connections`, cycling over many users and orders;
- each write alone, as the lifecycle: create → accept → dispatch → claim → start → complete →
  confirm; each phase acts once on each order the phase before produced (so no request finds
  an order in the wrong state), and ends early when none is left;
- the mix per role at `--mix-connections`: residents create, list their orders and open one;
  volunteers list their offers, open one and claim it; secretaries open the desk, ask for
  candidates and dispatch; staff open the statistics (API and page);
- the pages one request at a time (`-c 1`): their latency is the server time.

Printed per run: req/s, p50 / p95 / p99 latency, errors (connect, read, write, timeouts at
wrk's 2 s, and statuses other than 2xx/3xx), CPU ms per request (utime + stime of the daphne
processes from /proc/<pid>/stat), SQL statements per request (counted in each process by the
probe that `SANDAN_BENCH_PROBE=1` mounts, project/benchprobe.py), and the ratio to the floor.

Against another server (say, several hosts set up by someone else): prepare the database,
point the servers at it (DATABASE_URL=…/sandan_bench_http, SANDAN_BENCH_PROBE=1 for the
statement counts), then run the same phases without starting anything:

    .venv/bin/python bench/http_load.py --prepare
    .venv/bin/python bench/http_load.py --target http://host:port [--server-pid PID ...] \\
        [--probe http://backend1:port,http://backend2:port]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Another name lets a second bench (bench/cluster_curve.py) use a copy of its own.
DB_NAME = os.environ.get("BENCH_HTTP_DATABASE", "sandan_bench_http")
TEMPLATE = "sandan_bench_http_template"
LUA = ROOT / "bench" / "http_load.lua"
WORK = Path(tempfile.gettempdir()) / "sandan-bench-http"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIX_ORDERS = 600  # accepted orders to dispatch and offered orders to claim, each, per configuration
HOURS = "1.50"


# --- set-up --------------------------------------------------------------------------------------


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/http_load.py needs PostgreSQL and Redis: set DATABASE_URL=postgres://… and REDIS_URL")
    return url.rsplit("/", 1)[0]


def _env(db: str = DB_NAME) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"{_server_url()}/{db}",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SANDAN_EMBEDDED_WORKER": "0",
        "DEBUG": "0",  # as in production: with DEBUG on Django formats and keeps every query
        "SECRET_KEY": "bench-only-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",  # plain http on loopback
        "LOG_LEVEL": "WARNING",
        "ORDER_SUBMIT_RATE": "1000000/hour",
        "STATIC_ROOT": str(WORK / "static"),
        "SANDAN_BENCH_PROBE": "1",
        "CACHE_PREFIX": f"bench-http-{os.getpid()}",
        "DB_POOL_MAX_SIZE": os.environ.get("BENCH_SERVER_POOL", "20"),
    }


def _need_tools() -> None:
    missing = [tool for tool in ("wrk", "haproxy") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"bench/http_load.py needs {' and '.join(missing)} from Debian: apt-get install {' '.join(missing)}")


def _psql(sql: str, db: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(f"{_server_url()}/{db}", autocommit=True) as conn:
        conn.execute(sql)


def _database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(f"{_server_url()}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def session_key(user_id: int) -> str:
    """The bench's session for a user: derived from the id, so any bench process knows it."""
    return f"benchhttp{user_id:023d}"


def _build_template() -> None:
    t0 = time.monotonic()
    _psql(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{TEMPLATE}"')
    env = _env(TEMPLATE)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "manage.py", "load_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [sys.executable, __file__, "--seed-template"], cwd=ROOT, env={**env, "BENCH_HTTP_SEED": "1"}, check=True
    )
    _psql("VACUUM ANALYZE", TEMPLATE)
    print(f"template {TEMPLATE} built in {time.monotonic() - t0:.0f} s", flush=True)


def _seed_template() -> None:
    """In the template: every volunteer can take many orders, every user has a session, and
    the mix has accepted orders to dispatch and offered orders to claim."""
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from accounts.models import User
    from orders import services
    from volunteers.models import Volunteer

    Volunteer.objects.update(on_duty=True, capacity=1000)
    expires = timezone.now() + timedelta(days=30)
    from django.contrib.sessions.models import Session

    rows = []
    for user in User.objects.all():
        store = SessionStore()
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=session_key(user.pk), session_data=store.encode(data), expire_date=expires))
    Session.objects.bulk_create(rows)
    world = _world()
    for n in range(MIX_ORDERS * 2):
        resident = world.residents[n % len(world.residents)]
        order, _ = services.order_submit(
            resident=User.objects.get(pk=resident),
            data=services.OrderInput(category=world.categories[n % len(world.categories)], description=f"Mix {n}"),
        )
        desk = User.objects.get(pk=world.desk_of[order.branch_id])
        services.order_accept(order_id=order.pk, user=desk)
        if n % 2:
            vid = world.pick_volunteer(order.branch_id, n)
            services.order_dispatch(order_id=order.pk, user=desk, mode="direct", volunteer=vid)
    print(f"seeded sessions for {len(rows)} users and {MIX_ORDERS * 2} orders for the mix", flush=True)


# --- who is who ----------------------------------------------------------------------------------


@dataclass
class World:
    residents: list[int]
    volunteers: dict[int, int]  # volunteer id → user id
    members: dict[int, list[int]]  # branch id → its volunteers
    desk_of: dict[int, int]  # branch id → a secretary (or staff) user id
    secretaries: list[int]
    staff: list[int]
    staff_seats: list[tuple[int, int]]  # (area id, staff user id)
    categories: list[str] = field(default_factory=lambda: ["errands", "repair", "digital", "cleaning"])

    def pick_volunteer(self, branch_id: int, n: int) -> int:
        members = self.members.get(branch_id) or sorted(self.volunteers)
        return members[n % len(members)]


def _world() -> World:
    from accounts.models import ResidentProfile
    from volunteers.models import Area, Branch, Volunteer

    volunteers = dict(Volunteer.objects.values_list("id", "user_id"))
    members: dict[int, list[int]] = {}
    for vid, bid in Volunteer.branches.through.objects.values_list("volunteer_id", "branch_id").order_by("id"):
        members.setdefault(bid, []).append(vid)
    staff_of: dict[int, int] = {}
    for area_id, uid in Area.staff.through.objects.values_list("area_id", "user_id"):
        staff_of.setdefault(area_id, uid)
    desk_of: dict[int, int] = {}
    for branch in Branch.objects.select_related("area").prefetch_related("secretaries"):
        secretaries = [u.pk for u in branch.secretaries.all()]
        if secretaries:
            desk_of[branch.pk] = secretaries[0]
        else:
            area = branch.area
            desk_of[branch.pk] = staff_of.get(area.pk) or staff_of.get(area.parent_id or 0) or 0
    return World(
        residents=list(ResidentProfile.objects.exclude(lat=None).order_by("user_id").values_list("user_id", flat=True)),
        volunteers=volunteers,
        members=members,
        desk_of=desk_of,
        secretaries=sorted(set(Branch.secretaries.through.objects.values_list("user_id", flat=True))),
        staff=sorted(set(staff_of.values())),
        staff_seats=list(Area.staff.through.objects.order_by("id").values_list("area_id", "user_id")),
    )


# --- requests ------------------------------------------------------------------------------------


@dataclass
class Req:
    method: str
    path: str
    user: int | None = None
    body: dict | None = None
    cookie: bool = False  # pages: the session cookie; the API: X-Session-Token, as phone apps send

    def line(self, group: str, once: bool) -> str:
        header = ""
        if self.user is not None:
            key = session_key(self.user)
            header = f"Cookie: sessionid={key}" if self.cookie else f"X-Session-Token: {key}"
        body = json.dumps(self.body, separators=(",", ":")) if self.body is not None else ""
        return "\t".join(["req", group, "1" if once else "0", self.method, self.path, header, body])


@dataclass
class Group:
    name: str
    reqs: list[Req]
    weight: float = 1.0
    once: bool = False


def _reads(world: World) -> dict[str, Group]:
    """Each read endpoint, over many users and orders."""
    from django.db.models import Count

    from orders.models import Offer, Order

    own = list(
        Order.objects.filter(resident_id__in=world.residents).order_by("id").values_list("id", "resident_id")[:2000]
    )
    offered = list(
        Offer.objects.filter(status="open", order__status="dispatched")
        .order_by("id")
        .values_list("order_id", "volunteer__user_id")
    )
    accepted = list(Order.objects.filter(status="accepted").order_by("id").values_list("id", "branch_id"))
    with_orders = [
        r
        for r, n in Order.objects.values_list("resident_id").annotate(n=Count("id")).order_by("-n")
        if r in set(world.residents)
    ]
    offered_users = sorted({uid for _, uid in offered}) or sorted(world.volunteers.values())
    desks = sorted(set(world.desk_of.values()) - {0})
    staff = world.staff or desks
    stats = [Req("GET", f"/api/v1/stats?scope=area:{area}", uid) for area, uid in world.staff_seats]
    groups = {
        "orders.list (resident)": [Req("GET", "/api/v1/orders", uid) for uid in with_orders],
        "orders.list (desk)": [Req("GET", "/api/v1/orders?role=desk", uid) for uid in desks],
        "orders.detail (resident)": [Req("GET", f"/api/v1/orders/{oid}", uid) for oid, uid in own],
        "orders.detail (offered)": [Req("GET", f"/api/v1/orders/{oid}", uid) for oid, uid in offered],
        "offers": [Req("GET", "/api/v1/offers", uid) for uid in offered_users],
        "candidates": [Req("GET", f"/api/v1/orders/{oid}/candidates", world.desk_of[b]) for oid, b in accepted],
        "stats (API)": stats,
        "me": [Req("GET", "/api/v1/me", uid) for uid in with_orders],
        "notifications": [Req("GET", "/api/v1/notifications", uid) for uid in with_orders],
        "categories": [Req("GET", "/api/v1/categories", uid) for uid in with_orders],
        "page: my orders": [Req("GET", "/orders/", uid, cookie=True) for uid in with_orders],
        "page: volunteer": [Req("GET", "/volunteer/", uid, cookie=True) for uid in offered_users],
        "page: desk": [Req("GET", "/desk/", uid, cookie=True) for uid in desks],
        "page: stats": [Req("GET", "/stats/", uid, cookie=True) for uid in staff],
    }
    return {name: Group(name, reqs) for name, reqs in groups.items() if reqs}


PAGES = ["page: my orders", "page: volunteer", "page: desk", "page: stats"]


def _create_requests(world: World, n: int, tag: str) -> list[Req]:
    return [
        Req(
            "POST",
            "/api/v1/orders",
            world.residents[i % len(world.residents)],
            {"category": world.categories[i % len(world.categories)], "description": f"Bench {tag} {i}"},
        )
        for i in range(n)
    ]


def _chain_requests(world: World, step: str, since: int) -> list[Req]:
    """The next lifecycle step for every order (id > since) the step before produced."""
    from orders.models import Offer, Order

    orders = Order.objects.filter(id__gt=since).order_by("id")
    if step == "accept":
        return [
            Req("POST", f"/api/v1/orders/{oid}/accept", world.desk_of[b], {})
            for oid, b in orders.filter(status="submitted").values_list("id", "branch_id")
        ]
    if step == "dispatch":
        return [
            Req(
                "POST",
                f"/api/v1/orders/{oid}/dispatch",
                world.desk_of[b],
                {"mode": "direct", "volunteer": world.pick_volunteer(b, oid)},
            )
            for oid, b in orders.filter(status="accepted").values_list("id", "branch_id")
        ]
    if step == "claim":
        offers = Offer.objects.filter(order_id__gt=since, order__status="dispatched", status="open").order_by("id")
        return [
            Req("POST", f"/api/v1/orders/{oid}/claim", uid, {})
            for oid, uid in offers.values_list("order_id", "volunteer__user_id")
        ]
    if step == "start":
        return [
            Req("POST", f"/api/v1/orders/{oid}/start", uid, {})
            for oid, uid in orders.filter(status="claimed").values_list("id", "volunteer__user_id")
        ]
    if step == "complete":
        return [
            Req("POST", f"/api/v1/orders/{oid}/complete", uid, {"hours": HOURS, "note": "done"})
            for oid, uid in orders.filter(status="in_progress").values_list("id", "volunteer__user_id")
        ]
    if step == "confirm":
        return [
            Req("POST", f"/api/v1/orders/{oid}/confirm", uid, {"rating": 5})
            for oid, uid in orders.filter(status="completed").values_list("id", "resident_id")
        ]
    raise ValueError(step)


CHAIN = ["accept", "dispatch", "claim", "start", "complete", "confirm"]


def _mix(world: World, reads: dict[str, Group]) -> list[Group]:
    """A realistic mix per role; weights are shares of requests."""
    from orders.models import Offer, Order

    claims = [
        Req("POST", f"/api/v1/orders/{oid}/claim", uid, {})
        for oid, uid in Offer.objects.filter(status="open", order__status="dispatched")
        .order_by("?")
        .values_list("order_id", "volunteer__user_id")
    ]
    dispatches = [
        Req(
            "POST",
            f"/api/v1/orders/{oid}/dispatch",
            world.desk_of[b],
            {"mode": "direct", "volunteer": world.pick_volunteer(b, oid)},
        )
        for oid, b in Order.objects.filter(status="accepted").order_by("?").values_list("id", "branch_id")
    ]
    share = {
        # residents
        "orders.list (resident)": 12,
        "orders.detail (resident)": 12,
        # volunteers
        "offers": 14,
        "orders.detail (offered)": 10,
        "page: volunteer": 4,
        # secretaries
        "page: desk": 6,
        "orders.list (desk)": 4,
        "candidates": 8,
        # staff
        "stats (API)": 3,
        "page: stats": 2,
        # everyone
        "me": 4,
        "notifications": 3,
    }
    groups = [Group(f"mix {name}", reads[name].reqs, weight) for name, weight in share.items() if name in reads]
    groups.append(Group("mix create", _create_requests(world, 5000, f"mix-{time.time():.0f}"), 6, once=True))
    groups.append(Group("mix claim", claims, 5, once=True))
    groups.append(Group("mix dispatch", dispatches, 3, once=True))
    return groups


# --- servers -------------------------------------------------------------------------------------


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} does not answer")


@dataclass
class Servers:
    url: str
    pids: list[int]  # the application processes, for CPU time
    probes: list[str]  # where each process's counters are read
    procs: list[subprocess.Popen] = field(default_factory=list)
    proxy_pid: int | None = None

    def stop(self) -> None:
        for proc in self.procs:  # only what this bench started, by PID
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _start(processes: int) -> Servers:
    env = _env()
    ports = [_free_port() for _ in range(processes)]
    procs = []
    for port in ports:
        log = (WORK / f"daphne-{port}.log").open("w")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    backends = [f"http://127.0.0.1:{p}" for p in ports]
    for url in backends:
        _wait_http(url)
    servers = Servers(url=backends[0], pids=[p.pid for p in procs], probes=backends, procs=procs)
    if processes > 1:
        front = _free_port()
        config = WORK / "haproxy.cfg"
        config.write_text(_haproxy_config(front, ports))
        proxy = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)],
            stdout=(WORK / "haproxy.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        servers.procs.append(proxy)
        servers.proxy_pid = proxy.pid
        servers.url = f"http://127.0.0.1:{front}"
        _wait_http(servers.url)
    return servers


def _haproxy_config(front: int, ports: list[int]) -> str:
    lines = [
        "global",
        "  maxconn 4096",
        "  nbthread 1",
        "defaults",
        "  mode http",
        "  option http-keep-alive",
        "  timeout connect 5s",
        "  timeout client 60s",
        "  timeout server 60s",
        "frontend bench",
        f"  bind 127.0.0.1:{front}",
        "  default_backend daphnes",
        "backend daphnes",
        "  balance leastconn",
        *[f"  server d{i} 127.0.0.1:{port}" for i, port in enumerate(ports)],
        "",
    ]
    return "\n".join(lines)


def _cpu_ms(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total * 1000.0 / CLK_TCK


def _counters(probes: list[str]) -> tuple[int, int] | None:
    requests = statements = 0
    for url in probes:
        try:
            with urllib.request.urlopen(url + "/_bench/counters", timeout=5) as response:  # noqa: S310 - loopback
                data = json.load(response)
        except OSError:
            return None
        requests += data["requests"]
        statements += data["statements"]
    return requests, statements


# --- one wrk run ---------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    connections: int
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    errors: int
    timeouts: int
    bad: dict[str, int]
    cpu_ms: float | None
    statements: float | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _wrk(servers: Servers, name: str, groups: list[Group], *, connections: int, duration: float) -> Result | None:
    groups = [g for g in groups if g.reqs]
    if not groups:
        print(f"  {name}: nothing to send", flush=True)
        return None
    path = WORK / "requests.tsv"
    with path.open("w") as out:
        for g in groups:
            out.write(f"weight\t{g.name}\t{g.weight}\n")
        for g in groups:
            for req in g.reqs:
                out.write(req.line(g.name, g.once) + "\n")
    threads = min(2, connections)
    cpu0, count0 = _cpu_ms(servers.pids), _counters(servers.probes)
    run = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "-s",
            str(LUA),
            servers.url,
            "--",
            str(path),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    cpu1, count1 = _cpu_ms(servers.pids), _counters(servers.probes)
    found = re.search(r"^RESULT (\{.*\})$", run.stdout, re.M)
    if found is None:
        print(f"  {name}: wrk failed\n{run.stdout}\n{run.stderr}", flush=True)
        return None
    data = json.loads(found.group(1))
    bad = {code: n for code, n in data["statuses"].items() if not code.startswith(("2", "3"))}
    served = (count1[0] - count0[0]) if count0 and count1 else None
    return Result(
        name=name,
        connections=connections,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50=data["p50_us"] / 1000,
        p95=data["p95_us"] / 1000,
        p99=data["p99_us"] / 1000,
        errors=data["connect"] + data["read"] + data["write"],
        timeouts=data["timeout"],
        bad=bad,
        cpu_ms=(cpu1 - cpu0) / served if served and servers.pids else None,
        statements=(count1[1] - count0[1]) / served if served and count0 and count1 else None,
    )


def _row(r: Result, floor: float | None, target: float | None) -> str:
    ratio = r.rps / floor if floor else None
    verdict = ""
    if ratio is not None and target is not None:
        verdict = "met" if ratio >= target else "NOT met"
    bad = ",".join(f"{c}×{n}" for c, n in sorted(r.bad.items())) or "0"
    return (
        f"| {r.name} | {r.connections} | {r.rps:.0f} | {r.p50:.1f} / {r.p95:.1f} / {r.p99:.1f} | "
        f"{r.errors} / {r.timeouts} / {bad} | "
        f"{'' if r.cpu_ms is None else f'{r.cpu_ms:.1f}'} | "
        f"{'' if r.statements is None else f'{r.statements:.1f}'} | "
        f"{'' if ratio is None else f'{ratio:.2f}'}"
        f"{'' if target is None else f' (≥ {target:.3g}: {verdict})'} |"
    )


HEADER = (
    "| run | conns | req/s | p50 / p95 / p99 ms | errors / timeouts / bad statuses | CPU ms/req | SQL/req | ÷ floor |\n"
    "|---|---|---|---|---|---|---|---|"
)


def run_configuration(servers: Servers, args: argparse.Namespace, label: str) -> dict[str, Any]:
    import django

    django.setup()
    from orders.models import Order

    def wanted(name: str) -> bool:
        return not args.only or any(name.startswith(o) for o in args.only)

    world = _world()
    reads = _reads(world)
    results: list[tuple[Result, float | None]] = []
    floor_runs: list[Result] = []

    def go(name: str, groups: list[Group], conns: int, target: float | None) -> Result | None:
        r = _wrk(servers, name, groups, connections=conns, duration=args.duration)
        if r is not None:
            results.append((r, target))
            print(f"  {name}: {r.rps:.0f} req/s, p99 {r.p99:.0f} ms, bad {r.bad or 0}", flush=True)
        return r

    print(f"\n{label} ({servers.url}); uptime: {_uptime()}", flush=True)
    floor_group = [Group("floor", [Req("GET", "/healthz")])]
    if r := go("floor (GET /healthz)", floor_group, args.connections, None):
        floor_runs.append(r)
    for name, group in reads.items():
        if wanted(name):
            go(name, [group], args.connections, 1 / 4)
    if wanted("create") or wanted("actions"):
        since = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
        go(
            "create",
            [Group("create", _create_requests(world, 20000, f"{label}-{time.time():.0f}"), once=True)],
            args.connections,
            1 / 8,
        )
        for step in CHAIN:
            go(step, [Group(step, _chain_requests(world, step, since), once=True)], args.connections, 1 / 8)
    if wanted("mix"):
        go("mix (all roles)", _mix(world, reads), args.mix_connections, None)
    for name in PAGES:
        if name in reads and wanted(name):
            go(f"{name}, one at a time", [reads[name]], 1, None)
    if r := go("floor again (GET /healthz)", floor_group, args.connections, None):
        floor_runs.append(r)
    floor = sum(r.rps for r in floor_runs) / len(floor_runs) if floor_runs else None
    print(
        f"\n{label}: floor {floor or 0:.0f} req/s (runs: {', '.join(f'{r.rps:.0f}' for r in floor_runs)}); "
        f"uptime: {_uptime()}"
    )
    print(HEADER)
    for r, target in results:
        print(_row(r, floor, target))
    mix = next((r for r, _ in results if r.name.startswith("mix")), None)
    if mix is not None:
        ok = mix.p99 <= 250 and mix.errors == 0 and mix.timeouts == 0 and not mix.bad
        print(
            f"mix at {mix.connections} connections: p99 {mix.p99:.0f} ms, {mix.errors} errors, {mix.timeouts} "
            f"timeouts, bad statuses {mix.bad or 0} (p99 ≤ 250 ms, none failed: {'met' if ok else 'NOT met'})"
        )
    for r, _ in results:
        if r.name.endswith("one at a time"):
            print(f"{r.name}: server time p95 {r.p95:.1f} ms (≤ 60 ms: {'met' if r.p95 <= 60 else 'NOT met'})")
    sys.stdout.flush()
    return {"floor": floor, "mix": mix.rps if mix else None}


def _uptime() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _clone() -> None:
    from django.db import connections

    connections.close_all()
    _psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    _psql(f'CREATE DATABASE "{DB_NAME}" TEMPLATE "{TEMPLATE}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", default="1,2", help="configurations: 1 = one daphne, 2 = two behind HAProxy")
    parser.add_argument("--duration", type=float, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--mix-connections", type=int, default=64)
    parser.add_argument(
        "--only",
        type=lambda s: [x for x in s.split(",") if x],
        default=[],
        help="runs whose name starts with one of these (floor always runs)",
    )
    parser.add_argument("--fresh", action="store_true", help="build the template database again")
    parser.add_argument("--prepare", action="store_true", help="only build the database (for --target)")
    parser.add_argument("--target", help="measure this base URL; start nothing, reset nothing")
    parser.add_argument("--server-pid", type=int, action="append", default=[], help="with --target: for CPU ms")
    parser.add_argument("--probe", default="", help="with --target: comma-separated base URLs of each process")
    parser.add_argument("--seed-template", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.seed_template:
        _seed_template()
        return
    # Stopped from outside: still stop the servers this bench started (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _server_url()
    _need_tools()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.update(_env())
    os.environ["DB_POOL_MAX_SIZE"] = "0"  # this process drops and clones the database between configurations
    if args.target:
        probes = [p for p in args.probe.split(",") if p] or [args.target]
        servers = Servers(url=args.target.rstrip("/"), pids=args.server_pid, probes=probes)
        run_configuration(servers, args, f"target {args.target}")
        return
    if args.fresh or not _database_exists(TEMPLATE):
        _build_template()
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=_env(), check=True
    )
    if args.prepare:
        _clone()
        print(f"database {DB_NAME} ready")
        return
    summary = {}
    for n in [int(x) for x in args.processes.split(",")]:
        _clone()
        servers = _start(n)
        try:
            label = "1 daphne process" if n == 1 else f"{n} daphne processes behind HAProxy"
            summary[n] = run_configuration(servers, args, label)
        finally:
            servers.stop()
    if 1 in summary and 2 in summary and summary[1]["mix"] and summary[2]["mix"]:
        gain = summary[2]["mix"] / summary[1]["mix"]
        verdict = "met" if gain >= 1.4 else "NOT met"
        print(f"\nmix, 2 processes behind HAProxy ÷ 1 process: {gain:.2f}× (≥ 1.4×: {verdict})")
    print(f"uptime at the end: {_uptime()}")


if __name__ == "__main__":
    main()
