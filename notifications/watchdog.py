"""Process-wide care of the sockets: handshake admission, and closing them all when Redis went
away, so that phones reconnect and resume.

While Redis is down, pushes fail (the relay keeps those rows) and the pub/sub subscription is
dead; when it is back, redis-py resubscribes, but whatever was published in between never reached
this process and a socket that stayed open would not know it missed anything. So the process
checks Redis (each shard of REDIS_URLS) every REALTIME["REDIS_WATCHDOG_SECONDS"] and, on the first failed check or on a
changed `run_id` (a restart between two checks), closes its sockets with 4012 (1012, service restart, in the
private range that a server may send).
The client's ordinary reconnect sends `resume {after}` and gets every missed event from the outbox.

Those checks can fall on either side of the moment redis-py reconnects, so each socket also
knows whether its own group subscription is intact (notifications.layers): a socket refuses a
live event once it is not, and the same tick closes the broken ones that get no event.

One task per process and event loop, started by the first socket; nothing is shared between
processes and nothing here is the only copy of anything.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from django.conf import settings

from notifications.layers import subscription_intact

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 4012
CLOSE_TRY_AGAIN = 4013  # the channel layer (Redis) is unavailable: reconnect later and resume

_sockets: weakref.WeakSet[Any] = weakref.WeakSet()
_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def handshake_slot() -> asyncio.Semaphore:
    """Admission control for handshakes in this process (REALTIME["HANDSHAKE_CONCURRENCY"]).

    When 2,000 phones reconnect at once, letting all of them start interleaves their few
    awaits each, so every one of them finishes late and daphne's handshake timeout closes
    them all. Taking them a few dozen at a time, first come first served, finishes each quickly.
    """
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(settings.REALTIME["HANDSHAKE_CONCURRENCY"])
    return slot


class RefuseWhileUnavailable:
    """ASGI wrapper for /ws/: a handshake that fails on the server before anything was sent
    (Redis away: the channel layer cannot open the socket's channel, which Channels does before
    `connect()`) is accepted and closed at once with 4013, "try again later", instead of
    daphne's HTTP 500. A browser sees no HTTP status, only the close code, so this is what
    tells phones to back off and resume; a 500 looked like a server bug."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        sent = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal sent
            sent = True
            await send(message)

        try:
            return await self.inner(scope, receive, tracked)
        except Exception:
            if sent or scope.get("type") != "websocket":
                raise
            logger.warning("refusing a socket with %d: the handshake failed", CLOSE_TRY_AGAIN, exc_info=True)
            await refuse(receive, send)


async def refuse(receive: Any, send: Any) -> None:
    """Finish a pending handshake with "try again later" (4013)."""
    message = await receive()
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})


def register(consumer: Any) -> None:
    _sockets.add(consumer)
    interval = settings.REALTIME["REDIS_WATCHDOG_SECONDS"]
    if not settings.REDIS_URLS or interval <= 0:
        return
    loop = asyncio.get_running_loop()
    task = _tasks.get(loop)
    if task is None or task.done():
        _tasks[loop] = loop.create_task(_watch_all(settings.REDIS_URLS, interval))


def unregister(consumer: Any) -> None:
    _sockets.discard(consumer)


async def close_all(code: int = CLOSE_SERVICE_RESTART) -> int:
    """Close every socket of this process; returns how many."""
    sockets = list(_sockets)
    _sockets.clear()
    for consumer in sockets:
        try:
            await consumer.close(code=code)
        except Exception:  # a socket already gone
            logger.debug("closing a socket failed", exc_info=True)
    return len(sockets)


async def _watch_all(urls: list[str], interval: float) -> None:
    """One watch per channel-layer shard (REDIS_URLS). A shard that restarts loses the
    subscriptions of the groups it holds, which may be any socket's: all of them resume.
    And one sweep of the sockets whose own subscription broke."""
    await asyncio.gather(*(_watch(url, interval) for url in urls), _sweep(interval))


async def _sweep(interval: float) -> None:
    """Close the sockets whose group subscription has been through a disconnection of its
    shard's subscriber connection (notifications.layers), however short.

    redis-py reconnects that connection and subscribes again on its own, within a second, which
    may fall between two checks of `_watch`; what was published meanwhile never arrives. A
    socket refuses its next live event in that case (sockets.consumers), but one that gets none
    would wait for its lost events until its next reconnect: this closes it, and it resumes."""
    while True:
        await asyncio.sleep(interval)
        broken = [s for s in list(_sockets) if not subscription_intact(getattr(s, "subscription", None))]
        for consumer in broken:
            _sockets.discard(consumer)
            try:
                await consumer.close(code=CLOSE_SERVICE_RESTART)
            except Exception:  # a socket already gone
                logger.debug("closing a socket failed", exc_info=True)
        if broken:
            logger.warning("closed %d sockets whose subscription broke; they resume on reconnect", len(broken))


async def _watch(url: str, interval: float) -> None:
    from redis import asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=interval, socket_timeout=interval)
    run_id: str | None = None
    healthy = True
    try:
        while True:
            await asyncio.sleep(interval)
            try:
                info = await client.info("server")
                current = str(info.get("run_id"))
            except Exception:  # noqa: BLE001 - any failure means "Redis is not there"
                if healthy:
                    closed = await close_all()
                    logger.warning("Redis unreachable: closed %d sockets; they resume on reconnect", closed)
                healthy = False
                continue
            if run_id is not None and current != run_id and healthy:
                closed = await close_all()
                logger.warning("Redis restarted: closed %d sockets; they resume on reconnect", closed)
            run_id, healthy = current, True
    finally:
        await client.aclose()
