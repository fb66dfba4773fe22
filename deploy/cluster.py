"""A Sandan cluster on one machine: hosts as Linux network namespaces (`make cluster`).

    .venv/bin/python deploy/cluster.py up [--hosts 3] [--database sandan_cluster]
    .venv/bin/python deploy/cluster.py status | down
    .venv/bin/python deploy/cluster.py kill-host 2 | start-host 2 | restart-redis 1

What `up` builds (as root; `ip netns`, `veth`, a bridge):

    bridge sdcbr0 10.231.77.1/24 (this machine's side)
      ├─ HAProxy      10.231.77.1:8080   → web of every host, /healthz checked every second,
      │                                    WebSocket upgrades passed, least connections
      ├─ PgBouncer    10.231.77.1:6432   → PostgreSQL 127.0.0.1:5432 (transaction pooling)
      ├─ Redis shard  10.231.77.1:6391   channel layer shard 1, and the cache
      └─ Redis shard  10.231.77.1:6392   channel layer shard 2
    namespace sdc1 10.231.77.11  web (daphne, `python -m project.serve`) + worker   (Procfile)
    namespace sdc2 10.231.77.12  web + worker
    namespace sdc3 10.231.77.13  web + worker

Every address is one this command created (the bridge and the namespaces) or loopback; the
hosts reach PostgreSQL only through PgBouncer. `--tag` and `--subnet` give a second cluster
names and addresses of its own (the CI test runs one beside a `make cluster`). Everything
started is recorded in var/cluster/<tag>/state.json, by PID; `down` stops those PIDs (checking
each is still the process it started) and deletes the namespaces, links and bridge it made.

The release step (`migrate`) runs once before the hosts start, against PostgreSQL directly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
PG_DIRECT = os.environ.get("CLUSTER_PG", "postgres://postgres@127.0.0.1:5432")
WEB_PORT, PROXY_PORT, BOUNCER_PORT, REDIS_PORTS = 8000, 8080, 6432, (6391, 6392)


@dataclass
class Cluster:
    tag: str = "sdc"
    subnet: str = "10.231.77"  # /24; .1 is the bridge, .1N host N
    database: str = "sandan_cluster"
    hosts: int = 3
    pids: dict[str, int] = field(default_factory=dict)  # role → PID, e.g. "web1", "redis2"
    made: dict[str, list[str]] = field(default_factory=lambda: {"netns": [], "links": []})
    extra_env: dict[str, str] = field(default_factory=dict)
    killed: list[int] = field(default_factory=list)  # PIDs of processes killed by kill_host

    # --- names and addresses -----------------------------------------------------------------

    @property
    def bridge(self) -> str:
        return f"{self.tag[:3]}br{self.tag[3:]}0"[:15]  # sdcbr0, sdcbrt0

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    def netns(self, n: int) -> str:
        return f"{self.tag}{n}"

    def host_ip(self, n: int) -> str:
        return f"{self.subnet}.{10 + n}"

    @property
    def url(self) -> str:
        """The one address clients use: HAProxy."""
        return f"http://{self.gateway}:{PROXY_PORT}"

    @property
    def redis_urls(self) -> list[str]:
        return [f"redis://{self.gateway}:{port}/0" for port in REDIS_PORTS]

    @property
    def dir(self) -> Path:
        return ROOT / "var" / "cluster" / self.tag

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a command killed mid-write leaves the old state, not half.
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(self.state_file)

    @classmethod
    def load(cls, tag: str = "sdc") -> Cluster | None:
        path = ROOT / "var" / "cluster" / tag / "state.json"
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))

    def env(self) -> dict[str, str]:
        """The environment of every process on the hosts (production's variables)."""
        hosts = ",".join([self.gateway, "127.0.0.1", "localhost", *(self.host_ip(n) for n in range(1, 10))])
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DEBUG": "0",
            "SECRET_KEY": "cluster-on-one-machine-not-secret",
            "ALLOWED_HOSTS": hosts,
            "SECURE_COOKIES": "0",  # plain http between namespaces
            "DATABASE_URL": f"postgres://postgres@{self.gateway}:{BOUNCER_PORT}/{self.database}",
            # PgBouncer in transaction mode: no server-side prepared statements (README).
            "DB_PREPARE_THRESHOLD": "0",
            "DB_POOL_MAX_SIZE": "10",
            "REDIS_URL": self.redis_urls[0],
            "REDIS_URLS": ",".join(self.redis_urls),
            "CHANNEL_PREFIX": "sandan_cluster",
            "CACHE_PREFIX": "sandan_cluster",
            "SANDAN_EMBEDDED_WORKER": "0",
            "SANDAN_TIMER_TICK_SECONDS": "1",
            # A dead worker's timer step is taken over after this long (production: 60 s).
            "SANDAN_TIMER_LEASE_SECONDS": "5",
            "REALTIME_TICKET_SECONDS": "3600",
            "ORDER_SUBMIT_RATE": "1000000/hour",
            "LOG_LEVEL": "WARNING",
            "STATIC_ROOT": str(self.dir / "static"),
            **self.extra_env,
        }


# --- helpers ---------------------------------------------------------------------------------


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _spawn(cluster: Cluster, role: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    logs = cluster.dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{role}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env or {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command; stopped by PID by `down`
        )
    cluster.pids[role] = proc.pid
    cluster.save()
    return proc.pid


def _stop(cluster: Cluster, role: str, sig: int = signal.SIGTERM, wait: float = 10) -> None:
    pid = cluster.pids.pop(role, None)
    cluster.save()
    if pid is None or not _alive(pid):
        return
    os.kill(pid, sig)
    deadline = time.monotonic() + wait
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # our own child: reap it


def wait_tcp(host: str, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with closing(socket.create_connection((host, port), timeout=1)):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - an address we created
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} does not answer")


# --- the network ---------------------------------------------------------------------------------


def _network_up(cluster: Cluster) -> None:
    made = cluster.made
    if cluster.bridge not in made["links"]:
        sh("ip", "link", "add", cluster.bridge, "type", "bridge")
        made["links"].append(cluster.bridge)
        cluster.save()
        sh("ip", "addr", "add", f"{cluster.gateway}/24", "dev", cluster.bridge)
        sh("ip", "link", "set", cluster.bridge, "up")
    for n in range(1, cluster.hosts + 1):
        ns, outside, inside = cluster.netns(n), f"{cluster.tag}h{n}", f"{cluster.tag}n{n}"
        if ns in made["netns"]:
            continue
        sh("ip", "netns", "add", ns)
        made["netns"].append(ns)
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        made["links"].append(outside)  # deleting one end deletes the pair
        cluster.save()
        sh("ip", "link", "set", outside, "master", cluster.bridge)
        sh("ip", "link", "set", outside, "up")
        sh("ip", "link", "set", inside, "netns", ns)
        sh("ip", "-n", ns, "addr", "add", f"{cluster.host_ip(n)}/24", "dev", inside)
        sh("ip", "-n", ns, "link", "set", inside, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")


def _network_down(cluster: Cluster) -> None:
    for ns in list(cluster.made["netns"]):
        sh("ip", "netns", "del", ns, check=False)
        cluster.made["netns"].remove(ns)
    for link in reversed(cluster.made["links"]):
        sh("ip", "link", "del", link, check=False)
    cluster.made["links"] = []
    cluster.save()


# --- the shared parts ----------------------------------------------------------------------------


def _pgbouncer_config(cluster: Cluster) -> Path:
    pg = PG_DIRECT.removeprefix("postgres://").split("@")[-1]
    pg_host, pg_port = pg.split(":") if ":" in pg else (pg, "5432")
    run = cluster.dir / "pgbouncer"
    run.mkdir(parents=True, exist_ok=True)
    (run / "users.txt").write_text('"postgres" ""\n')
    config = run / "pgbouncer.ini"
    config.write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host={pg_host} port={pg_port} user=postgres",
                "[pgbouncer]",
                f"listen_addr = {cluster.gateway}",
                f"listen_port = {BOUNCER_PORT}",
                f"unix_socket_dir = {run}",
                "auth_type = trust",
                f"auth_file = {run / 'users.txt'}",
                "pool_mode = transaction",
                "max_client_conn = 4000",
                # PostgreSQL's own max_connections (100) is shared with the rest of the machine.
                "default_pool_size = 40",
                "max_db_connections = 60",
                "server_reset_query =",
                "ignore_startup_parameters = extra_float_digits,options",
                f"pidfile = {run / 'pgbouncer.pid'}",
                "",
            ]
        )
    )
    for path in (run, run / "users.txt", config):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    shutil.chown(run, "postgres")  # it runs as postgres and writes its pid file and socket here
    return config


def _haproxy_config(cluster: Cluster) -> Path:
    lines = [
        "global",
        "  maxconn 9000",  # two descriptors each; the hard limit here is 20,000
        f"  stats socket {cluster.dir / 'haproxy.sock'} mode 600 level admin",
        "defaults",
        "  mode http",
        "  option http-keep-alive",
        "  timeout connect 3s",
        "  timeout client 120s",
        "  timeout server 120s",
        # An upgraded WebSocket is a tunnel: idle phones are kept (daphne pings them).
        "  timeout tunnel 1h",
        "  timeout client-fin 5s",
        "frontend sandan",
        f"  bind {cluster.gateway}:{PROXY_PORT}",
        "  option forwardfor",
        # A request whose host refused the connection (it just died) goes to another one.
        "  retries 3",
        "  option redispatch 1",
        "  default_backend hosts",
        "backend hosts",
        # Sockets are long: least connections spreads phones over the hosts evenly.
        "  balance leastconn",
        # Which host answered (the scenario counts where the phones landed).
        "  http-response set-header X-Sandan-Host %[srv_name]",
        "  option httpchk",
        f"  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host {cluster.gateway}",
        "  http-check expect status 200",
        # Checked every second, every half second once a check failed: a dead host (connection
        # refused) is down after three failures, about two seconds, and its sessions are cut.
        # A live host that is merely busy gets 3 s to answer each check before it counts as one.
        "  timeout check 3s",
        "  default-server inter 1s fastinter 500ms fall 3 rise 2 on-marked-down shutdown-sessions",
        *[f"  server host{n} {cluster.host_ip(n)}:{WEB_PORT} check" for n in range(1, cluster.hosts + 1)],
        "",
    ]
    config = cluster.dir / "haproxy.cfg"
    config.write_text("\n".join(lines))
    return config


def start_redis(cluster: Cluster, shard: int) -> None:
    port = REDIS_PORTS[shard - 1]
    workdir = cluster.dir / f"redis{shard}"
    workdir.mkdir(parents=True, exist_ok=True)
    argv = ["redis-server", "--bind", cluster.gateway, "--port", str(port), "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(workdir), "--protected-mode", "no", "--maxclients", "20000"]
    _spawn(cluster, f"redis{shard}", argv)
    wait_tcp(cluster.gateway, port)


def restart_redis(cluster: Cluster, shard: int, *, down_seconds: float = 0.0) -> None:
    """Stop a shard (its data is gone: pub/sub and the cache hold nothing durable) and start it."""
    _stop(cluster, f"redis{shard}", signal.SIGKILL)
    if down_seconds:
        time.sleep(down_seconds)
    start_redis(cluster, shard)


def _shared_up(cluster: Cluster) -> None:
    for shard in (1, 2):
        if f"redis{shard}" not in cluster.pids:
            start_redis(cluster, shard)
    if "pgbouncer" not in cluster.pids:
        config = _pgbouncer_config(cluster)
        # PgBouncer will not run as root: it drops to postgres.
        _spawn(cluster, "pgbouncer", ["pgbouncer", "-u", "postgres", str(config)])
        wait_tcp(cluster.gateway, BOUNCER_PORT)
    if "haproxy" not in cluster.pids:
        _spawn(cluster, "haproxy", ["haproxy", "-db", "-f", str(_haproxy_config(cluster))])
        wait_tcp(cluster.gateway, PROXY_PORT)


def _release(cluster: Cluster) -> None:
    """Procfile `release`: the database exists and is migrated (PostgreSQL directly)."""
    import psycopg

    with psycopg.connect(f"{PG_DIRECT}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cluster.database]).fetchone():
            conn.execute(f'CREATE DATABASE "{cluster.database}"')
    env = {**cluster.env(), "DATABASE_URL": f"{PG_DIRECT}/{cluster.database}"}
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    if not (cluster.dir / "static" / "staticfiles.json").exists():
        subprocess.run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


# --- hosts ---------------------------------------------------------------------------------------


def start_host(cluster: Cluster, n: int, *, wait: bool = True) -> None:
    """Procfile `web` and `worker` inside namespace n."""
    ns, env = cluster.netns(n), cluster.env()
    netns = ["ip", "netns", "exec", ns]
    web = [PYTHON, "-m", "project.serve", "-b", cluster.host_ip(n), "-p", str(WEB_PORT)]
    web += ["--websocket_connect_timeout", "30", "--proxy-headers", "project.asgi:application"]
    _spawn(cluster, f"web{n}", netns + web, env)
    _spawn(cluster, f"worker{n}", [*netns, PYTHON, "manage.py", "run_worker"], env)
    if wait:
        wait_http(f"http://{cluster.host_ip(n)}:{WEB_PORT}/healthz")


def kill_host(cluster: Cluster, n: int) -> list[int]:
    """A host lost: SIGKILL every process on it, nothing said to anyone."""
    pids = [cluster.pids[r] for r in (f"web{n}", f"worker{n}") if r in cluster.pids]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    cluster.killed.extend(pids)
    for role in (f"web{n}", f"worker{n}"):
        _stop(cluster, role, signal.SIGKILL, wait=5)
    return pids


def haproxy_states(cluster: Cluster) -> dict[str, str]:
    """Each backend server's state as HAProxy sees it (UP, DOWN, ...), from its stats socket."""
    with closing(socket.socket(socket.AF_UNIX)) as s:
        s.connect(str(cluster.dir / "haproxy.sock"))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    states = {}
    for line in data.decode().splitlines():
        cols = line.split(",")
        if len(cols) > 17 and cols[0] == "hosts" and cols[1].startswith("host"):
            states[cols[1]] = cols[17]
    return states


# --- up, down ------------------------------------------------------------------------------------


def need_tools() -> None:
    missing = [t for t in ("ip", "haproxy", "pgbouncer", "redis-server") if shutil.which(t) is None]
    if missing:
        sys.exit(f"missing: {', '.join(missing)} (make cluster installs them: apt-get install haproxy pgbouncer)")
    if os.geteuid() != 0:
        sys.exit("the cluster makes network namespaces: run it as root")


def up(cluster: Cluster) -> Cluster:
    need_tools()
    existing = Cluster.load(cluster.tag)
    if existing is not None and (existing.pids or existing.made["netns"]):
        sys.exit(f"a cluster {cluster.tag} is up already (deploy/cluster.py down --tag {cluster.tag})")
    cluster.dir.mkdir(parents=True, exist_ok=True)
    cluster.save()
    try:
        _network_up(cluster)
        _shared_up(cluster)
        _release(cluster)
        for n in range(1, cluster.hosts + 1):
            start_host(cluster, n, wait=False)
        for n in range(1, cluster.hosts + 1):
            wait_http(f"http://{cluster.host_ip(n)}:{WEB_PORT}/healthz")
        deadline = time.monotonic() + 30
        while set(haproxy_states(cluster).values()) != {"UP"} and time.monotonic() < deadline:
            time.sleep(0.2)
    except BaseException:
        down(cluster)
        raise
    return cluster


def down(cluster: Cluster) -> None:
    # Hosts first (they hold connections to the rest), then the shared parts, then the network.
    for role in sorted(cluster.pids, key=lambda r: (not r.startswith(("web", "worker")), r)):
        pid = cluster.pids[role]
        if not _cmdline(pid):
            cluster.pids.pop(role)
            continue
        _stop(cluster, role)
    _network_down(cluster)
    cluster.save()


def status(cluster: Cluster) -> dict[str, Any]:
    return {
        "url": cluster.url,
        "processes": {role: (pid, _alive(pid)) for role, pid in sorted(cluster.pids.items())},
        "haproxy": haproxy_states(cluster) if "haproxy" in cluster.pids else {},
        "netns": cluster.made["netns"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "kill-host", "start-host", "restart-redis", "env"])
    parser.add_argument("n", nargs="?", type=int)
    parser.add_argument("--tag", default="sdc", help="names: namespaces <tag>N, bridge; must start with sdc")
    parser.add_argument("--subnet", default="10.231.77", help="a free /24, e.g. 10.231.77")
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--database", default="sandan_cluster")
    args = parser.parse_args()
    if not args.tag.startswith("sdc"):
        sys.exit("--tag must start with sdc")
    if args.command == "up":
        started = up(Cluster(tag=args.tag, subnet=args.subnet, database=args.database, hosts=args.hosts))
        print(f"cluster up: {started.url} ({started.hosts} hosts: {', '.join(started.made['netns'])})")
        print(f"stop it with: make cluster-down   (state: {started.state_file.relative_to(ROOT)})")
        return
    cluster = Cluster.load(args.tag)
    if cluster is None:
        print(f"no cluster {args.tag} is up")
        return
    if args.command == "down":
        down(cluster)
        print(f"cluster {args.tag} down")
    elif args.command == "status":
        print(json.dumps(status(cluster), indent=1))
    elif args.command == "env":
        for key, value in cluster.env().items():
            print(f"{key}={value}")
    elif args.command == "kill-host":
        print("killed", kill_host(cluster, args.n))
    elif args.command == "start-host":
        start_host(cluster, args.n)
    elif args.command == "restart-redis":
        restart_redis(cluster, args.n)


if __name__ == "__main__":
    main()
