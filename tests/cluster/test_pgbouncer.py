"""PgBouncer in transaction mode (the cluster's, deploy/cluster.py) in front of PostgreSQL: what
Sandan does through it keeps working. A PgBouncer of the test's own on loopback; for the prepared
statements two clients share one server connection, which is where transaction pooling bites.

- prepared statements: with DB_PREPARE_THRESHOLD=0 (the README's setting behind PgBouncer)
  nothing is prepared on the server and two clients interleave freely; with the default (5),
  the same run fails, which is why the setting exists;
- locks: every lock Sandan takes is transaction-scoped (row locks, FOR UPDATE SKIP LOCKED leases;
  no session advisory lock), and those hold through PgBouncer: two clients' SKIP LOCKED scans
  take disjoint rows, as two workers' lease scans must; a transaction-scoped advisory lock
  excludes the other client and is gone at commit;
- LISTEN/NOTIFY and session-level advisory locks would not survive transaction pooling, and
  nothing uses them (checked over the source)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

from tests.cluster.redisd import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.cluster]


@pytest.fixture(scope="module")
def pgbouncer():
    db = settings.DATABASES["default"]
    run = Path(tempfile.mkdtemp(prefix="sandan-pgbouncer-"))
    port = free_port()
    (run / "users.txt").write_text(f'"{db["USER"]}" ""\n')
    (run / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                # One server connection for two clients: where transaction pooling bites.
                f"shared = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} "
                f"dbname={db['NAME']} pool_size=1",
                f"* = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                f"unix_socket_dir = {run}",
                "auth_type = trust",
                f"auth_file = {run / 'users.txt'}",
                "pool_mode = transaction",
                "default_pool_size = 4",
                "query_wait_timeout = 20",
                "server_reset_query =",
                "ignore_startup_parameters = extra_float_digits,options",
                "",
            ]
        )
    )
    os.chmod(run, 0o755)  # noqa: S103 - read by PgBouncer, which runs as postgres
    argv = ["pgbouncer", str(run / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(run, "postgres")
        argv[1:1] = ["-u", "postgres"]  # it will not run as root
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


def _client(port: int, *, shared: bool = False, **options) -> DatabaseWrapper:
    """A Django connection to the test database through PgBouncer, with `options` as
    project/settings.py would set them; `shared`: over the pool of one server connection."""
    params = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": port, "CONN_MAX_AGE": 0}
    if shared:
        params["NAME"] = "shared"
    params["OPTIONS"] = dict(options)
    return DatabaseWrapper(params, alias=f"bouncer-{port}-{id(options)}")


def _interleave(port: int, **options) -> list[str]:
    """Two clients run the same parameterised statements in turn, each in its own transaction."""
    a, b = _client(port, shared=True, **options), _client(port, shared=True, **options)
    errors = []
    try:
        for n in range(12):
            for client in (a, b):
                try:
                    with client.cursor() as cursor:
                        cursor.execute("SELECT %s::int + 1", [n])
                        assert cursor.fetchone()[0] == n + 1
                        cursor.execute("SELECT count(*) FROM notifications_event WHERE recipient_id = %s", [n])
                        cursor.fetchone()
                except Exception as exc:  # what PgBouncer answered
                    errors.append(str(exc).splitlines()[0])
    finally:
        a.close()
        b.close()
    return errors


@pytest.mark.django_db(transaction=True)
def test_statements_are_not_prepared_on_the_server_with_the_threshold_off(pgbouncer):
    # What settings.py sets for DB_PREPARE_THRESHOLD=0: client-side binding, nothing prepared.
    assert _interleave(pgbouncer) == []


@pytest.mark.django_db(transaction=True)
def test_with_prepared_statements_on_transaction_pooling_breaks(pgbouncer):
    # The default DB_PREPARE_THRESHOLD (5) through PgBouncer 1.18 in transaction mode: a
    # statement prepared by one client is missing, or already there, for the next.
    errors = _interleave(pgbouncer, server_side_binding=True, prepare_threshold=1)
    assert errors and all("prepared statement" in e for e in errors)


@pytest.mark.django_db(transaction=True)
def test_skip_locked_leases_stay_disjoint_through_pgbouncer(pgbouncer, volunteer):
    from notifications.models import Event

    Event.objects.bulk_create([Event(recipient=volunteer, kind="x", payload={}) for _ in range(10)])
    lease = (
        "SELECT id FROM notifications_event WHERE pushed_at IS NULL AND recipient_id = %s "
        "ORDER BY id LIMIT 4 FOR UPDATE SKIP LOCKED"
    )
    a, b = _client(pgbouncer), _client(pgbouncer)
    try:
        with a.cursor() as ca, b.cursor() as cb:
            a.set_autocommit(False)
            b.set_autocommit(False)
            ca.execute(lease, [volunteer.pk])
            first = [r[0] for r in ca.fetchall()]
            cb.execute(lease, [volunteer.pk])  # while A's transaction holds its rows
            second = [r[0] for r in cb.fetchall()]
            a.commit()
            b.commit()
    finally:
        a.close()
        b.close()
    assert len(first) == 4 and len(second) == 4
    assert not set(first) & set(second)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_scoped_advisory_lock_excludes_the_other_client_until_commit(pgbouncer):
    a, b = _client(pgbouncer), _client(pgbouncer)
    try:
        a.set_autocommit(False)
        b.set_autocommit(False)
        with a.cursor() as ca, b.cursor() as cb:
            ca.execute("SELECT pg_try_advisory_xact_lock(4242)")
            assert ca.fetchone()[0] is True
            cb.execute("SELECT pg_try_advisory_xact_lock(4242)")
            assert cb.fetchone()[0] is False  # held by A's transaction
            b.rollback()
            a.commit()
            cb.execute("SELECT pg_try_advisory_xact_lock(4242)")
            assert cb.fetchone()[0] is True  # released with A's commit, on whichever server connection
            b.commit()
    finally:
        a.close()
        b.close()


def test_nothing_uses_what_transaction_pooling_cannot_carry():
    """Session state does not survive transaction pooling: a session advisory lock, LISTEN,
    a session SET, a WITH HOLD cursor would each land on some other client's connection."""
    banned = re.compile(
        r"pg_advisory_lock\(|pg_try_advisory_lock\(|\bLISTEN\s|\bUNLISTEN\b|WITH HOLD|\bSET SESSION\b", re.I
    )
    offenders = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in {".venv", "tests", "bench", "deploy", "var"} or "migrations" in parts:
            continue
        if banned.search(path.read_text(errors="ignore")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_cluster_turns_off_server_side_cursors_and_prepared_statements():
    from deploy.cluster import Cluster

    env = Cluster().env()
    assert env["DB_PREPARE_THRESHOLD"] == "0"
    assert ":6432/" in env["DATABASE_URL"]  # the hosts reach PostgreSQL only through PgBouncer
