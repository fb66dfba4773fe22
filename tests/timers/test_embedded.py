"""The demo's worker inside daphne (timers/embedded.py), without starting daphne."""

from __future__ import annotations

import asyncio
import sys
import threading
import types

import pytest

from timers import embedded
from timers.worker import Worker


class FakeReactor:
    def __init__(self) -> None:
        self.when_running: list = []

    def callWhenRunning(self, callback) -> None:
        self.when_running.append(callback)


@pytest.fixture
def inside_daphne(monkeypatch, settings):
    reactor = FakeReactor()
    monkeypatch.setitem(sys.modules, "daphne.server", types.ModuleType("daphne.server"))
    monkeypatch.setattr(embedded, "_reactor", lambda: reactor)
    monkeypatch.setattr(embedded, "_started", False)
    settings.SANDAN_EMBEDDED_WORKER = True
    return reactor


def test_inside_daphne_the_loop_starts_with_the_reactor_and_runs_passes(inside_daphne, monkeypatch):
    passes = threading.Event()
    threads: set[str] = set()

    def run_safely(self):
        threads.add(threading.current_thread().name)
        passes.set()

    monkeypatch.setattr(Worker, "run_safely", run_safely)
    assert embedded.start_if_enabled() is True
    assert embedded.start_if_enabled() is False  # once per process
    (start,) = inside_daphne.when_running

    async def reactor_running():
        start()
        await asyncio.get_running_loop().run_in_executor(None, passes.wait, 10)
        for task in list(embedded._tasks):
            task.cancel()
        embedded._tasks.clear()

    asyncio.run(reactor_running())
    assert passes.is_set()
    assert threading.main_thread().name not in threads  # database work stays off the event loop


def test_not_started_when_the_setting_is_off(inside_daphne, settings):
    settings.SANDAN_EMBEDDED_WORKER = False
    assert embedded.start_if_enabled() is False
    assert inside_daphne.when_running == []


def test_not_started_outside_daphne(settings, monkeypatch):
    settings.SANDAN_EMBEDDED_WORKER = True
    monkeypatch.setattr(embedded, "_started", False)
    monkeypatch.delitem(sys.modules, "daphne.server", raising=False)
    assert embedded.start_if_enabled() is False
