"""Django's ASGI handler on a fixed set of threads ("lanes") instead of a new thread per request.

Django's `ASGIHandler` runs every HTTP request inside a `ThreadSensitiveContext` of its own, so
the request's sync parts (the signals, the middleware chain and view, closing the response) run
on a thread pool made for that request alone: a new thread per request. py-spy on one daphne
under load showed it: 370 thread ids for 365 requests, and the heavier the request the more of
its CPU went to starting that thread, handing work between it and the event loop, and every
runnable thread contending for the GIL (docs/performance.md, HTTP).

Here each request borrows one of `HTTP_THREADS` long-lived single-thread executors for its
lifetime, the way a threaded WSGI server (gunicorn's `--threads`) keeps a fixed set of threads.
What stays the same: one request's sync parts still all run on one thread, in order (what
Django's thread-sensitive mode promises: database connections and transactions are per
thread); a request waiting for a free lane waits on the event loop, costing nothing, and
WebSocket traffic never waits for a lane (it does not come through this handler).
What to know when sizing it: a request holds its lane until its response is sent, a streamed
export included, so `HTTP_THREADS` is how many requests run at once per process, and it must
stay below the database pool (`DB_POOL_MAX_SIZE`) so the sockets' own queries find a
connection.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class Lanes:
    """A fixed set of single-thread executors, lent to one request at a time.

    A plain free list and a queue of futures rather than an asyncio.Queue: that one binds
    itself to the first event loop it waits on, and the tests serve from many loops."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._idle: list[ThreadPoolExecutor] | None = None
        self._waiters: deque[asyncio.Future[ThreadPoolExecutor]] = deque()

    @asynccontextmanager
    async def lane(self) -> AsyncIterator[ThreadPoolExecutor]:
        if self._idle is None:
            self._idle = [
                ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"http-lane-{number}")
                for number in reversed(range(self.count))
            ]
        if self._idle:
            # Last in, first out: under light load the same few threads serve everything.
            executor = self._idle.pop()
        else:
            waiter: asyncio.Future[ThreadPoolExecutor] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                executor = await waiter
            except asyncio.CancelledError:
                # Cancelled (the client went away) after a lane was handed over: pass it on.
                if waiter.done() and not waiter.cancelled():
                    self._give_back(waiter.result())
                raise
        try:
            yield executor
        finally:
            self._give_back(executor)

    def _give_back(self, executor: ThreadPoolExecutor) -> None:
        # Straight to the longest waiter, so a burst is served in the order it came.
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(executor)
                return
        assert self._idle is not None
        self._idle.append(executor)


class LaneASGIHandler(ASGIHandler):
    def __init__(self, threads: int) -> None:
        super().__init__()
        self.lanes = Lanes(threads)
        # The middleware chain built for a sync server as well: run whole on the request's lane.
        self.in_lane = BaseHandler()
        self.in_lane.load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        """The middleware and the view in one trip to the request's lane.

        Django's ASGI chain is async at its ends: sync middleware run on the thread, hand the
        request back to the event loop (`_get_response_async`, URL resolution), which sends the
        view to the thread again. Under load each hand-over waits for a busy loop: py-spy on a
        daphne serving writes found the lanes waiting there a third of their time
        (docs/performance.md, "Eighth pass"). Built for a sync server, the same chain runs as
        WSGI runs it: once, on the lane."""
        return await sync_to_async(self.in_lane.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with self.lanes.lane() as executor, ThreadSensitiveContext(executor=executor):
            await self.handle(scope, receive, send)


def get_http_application(threads: int) -> ASGIHandler:
    """Django's own handler when `threads` is 0 (a thread per request), lanes otherwise."""
    import django

    django.setup(set_prefix=False)
    return LaneASGIHandler(threads) if threads > 0 else ASGIHandler()
