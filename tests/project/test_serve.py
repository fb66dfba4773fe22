"""`python -m project.serve`: daphne's timeout and keepalive pass, spread over time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class FakeProtocol:
    def __init__(self) -> None:
        self.checks = 0

    def check_timeouts(self) -> None:
        self.checks += 1


def _server(monkeypatch, connections: int):
    from project import serve

    scheduled: list[float] = []
    monkeypatch.setattr(serve.reactor, "callLater", lambda delay, fn: scheduled.append(delay))
    server = serve.SlicedTimeoutServer.__new__(serve.SlicedTimeoutServer)
    server.connections = {FakeProtocol(): {} for _ in range(connections)}
    return server, scheduled


def test_every_connection_is_checked_once_per_cycle_a_fortieth_at_a_time(monkeypatch):
    server, scheduled = _server(monkeypatch, 2000)
    protocols = list(server.connections)
    per_pass = []
    for _ in range(40):  # one cycle: 40 passes, 50 ms apart
        before = sum(p.checks for p in protocols)
        server.timeout_checker()
        per_pass.append(sum(p.checks for p in protocols) - before)
    assert [p.checks for p in protocols] == [1] * 2000
    assert max(per_pass) == 50  # daphne's own pass checks (and pings) all 2,000 at once
    assert sum(scheduled) == pytest.approx(2.0)  # the cycle keeps daphne's period

    server.timeout_checker()  # the next cycle begins
    assert sum(p.checks for p in protocols) == 2000 + 50


def test_a_connection_closed_during_the_cycle_is_not_checked_again(monkeypatch):
    server, _ = _server(monkeypatch, 80)
    protocols = list(server.connections)
    server.timeout_checker()  # checks the first two
    gone = protocols[-1]
    del server.connections[gone]
    for _ in range(39):
        server.timeout_checker()
    assert gone.checks == 0
    assert all(p.checks == 1 for p in protocols[:-1])


def test_a_new_connection_joins_the_next_cycle(monkeypatch):
    server, _ = _server(monkeypatch, 40)
    for _ in range(20):
        server.timeout_checker()
    late = FakeProtocol()
    server.connections[late] = {}
    for _ in range(20):  # the rest of the cycle that began without it
        server.timeout_checker()
    assert late.checks == 0
    for _ in range(21):  # the next cycle: 41 connections, two a pass
        server.timeout_checker()
    assert late.checks == 1


def test_takes_daphnes_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "project.serve", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "--websocket_connect_timeout" in result.stdout
