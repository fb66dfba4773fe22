"""The cluster scenario at CI size (bench/cluster.py --small): three namespace hosts behind
HAProxy, PgBouncer, two Redis shards; pool races with claimers on every host, a host killed with
SIGKILL mid-flight, a Redis shard restarted, the host back. It fails on any lost or duplicated
event, any order with no winner or two, any timer step fired twice or left leased, a killed
host HAProxy does not mark down, REST failing while a shard is away, or a returned host
replaying old events.

A cluster of its own (namespaces sdct1-3, bridge sdcbrt0, 10.231.78.0/24, its own database),
so that it runs beside a `make cluster`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_losing_a_host_and_a_redis_shard_loses_nothing():
    db = settings.DATABASES["default"]
    server = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    database = f"{db['NAME'].removeprefix('test_')}_cluster_ci"
    # What an interrupted earlier run left (recorded PIDs, namespaces), if anything.
    subprocess.run([sys.executable, "deploy/cluster.py", "down", "--tag", "sdct"], cwd=ROOT, check=False, timeout=120)
    result = subprocess.run(
        [
            sys.executable,
            "bench/cluster.py",
            "--small",
            "--tag",
            "sdct",
            "--subnet",
            "10.231.78",
            "--database",
            database,
        ],
        cwd=ROOT,
        env={**os.environ, "CLUSTER_PG": server},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "all checks passed" in result.stdout
    assert "0 lost" in result.stdout and "[FAIL]" not in result.stdout
