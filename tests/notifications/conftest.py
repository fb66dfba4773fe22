"""Helpers for driving /ws/ in-process through `project.asgi.application`.

pytest-asyncio is not installed: each test writes its scenario as a coroutine and runs it with
`run(...)` (asgiref's async_to_sync), so database work inside it goes through
`database_sync_to_async` back on the test's own thread and connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from notifications.realtime import realtime_ticket_issue
from project.asgi import application

ORIGIN = b"http://127.0.0.1"


_POOL_THREADS = 4


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run a scenario; the consumer's off-thread database calls get a pool whose connections are
    closed at the end (a connection left in a finished thread would block dropping the test DB)."""

    async def scenario() -> Any:
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(max_workers=_POOL_THREADS)
        loop.set_default_executor(pool)
        try:
            return await coro_fn()
        finally:
            barrier = threading.Barrier(_POOL_THREADS)

            def close() -> None:
                barrier.wait(timeout=10)  # one call on each of the pool's threads
                connections.close_all()

            await asyncio.gather(*(loop.run_in_executor(pool, close) for _ in range(_POOL_THREADS)))

    return async_to_sync(scenario)()


db = database_sync_to_async


@pytest.fixture(autouse=True)
def _realtime_settings(settings):
    # In-process tests run on short-lived event loops: no Redis watchdog task per loop.
    settings.REALTIME = {**settings.REALTIME, "REDIS_WATCHDOG_SECONDS": 0}


@pytest.fixture(autouse=True)
def _seeded_categories(db):
    """Transactional tests flush the database after each test, seeded rows included: re-seed."""
    import importlib

    from django.apps import apps

    importlib.import_module("orders.migrations.0003_seed_categories").seed(apps, None)


@pytest.fixture(autouse=True)
def _fresh_in_memory_layer():
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        layer.channels.clear()
        layer.groups.clear()
    yield


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def open_socket(
    user=None, *, ticket: str | None = None, origin: bytes | None = ORIGIN, query: str = ""
) -> tuple[WebsocketCommunicator, bool, Any]:
    """Connect as `user` (session cookie) or with `ticket`; returns (communicator, connected, hello)."""
    headers = [(b"host", b"127.0.0.1")]
    if origin is not None:
        headers.append((b"origin", origin))
    if user is not None:
        headers.append((b"cookie", await db(session_cookie)(user)))
    params = "&".join(p for p in (f"ticket={ticket}" if ticket else "", query) if p)
    path = "/ws/" + (f"?{params}" if params else "")
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect(timeout=15)
    hello = None
    if connected:
        hello = await comm.receive_json_from(timeout=5)
        assert hello["type"] == "hello"
    return comm, connected, hello


async def new_ticket(user) -> str:
    token, _ = await db(realtime_ticket_issue)(user=user)
    return token


async def drain(comm: WebsocketCommunicator, n: int = 0, *, quiet: float = 0.3) -> list[dict]:
    """The next `n` frames (waiting up to 10 s for each), then whatever else arrives until the
    socket has been quiet for `quiet` seconds; a test comparing the list sees any extra frame."""
    frames = [await comm.receive_json_from(timeout=10) for _ in range(n)]
    while not await comm.receive_nothing(timeout=quiet):
        frames.append(await comm.receive_json_from(timeout=10))
    return frames


async def drain_until(comm: WebsocketCommunicator, *wanted: str) -> list[dict]:
    """Frames until one of each `wanted` kind (or type) has arrived (10 s each at most), then
    whatever else arrives until the socket is quiet: for scenarios whose frames come from two
    threads (a reply, then a push) on a machine that may be slow."""
    frames: list[dict] = []
    while not set(wanted) <= set(kinds(frames)):
        frames.append(await comm.receive_json_from(timeout=10))
    return frames + await drain(comm)


def kinds(frames: list[dict]) -> list[str]:
    return [f.get("kind", f["type"]) for f in frames]
