"""Who is on the other end of /ws/: the session cookie (browsers) or a single-use ticket (apps).

A `?ticket=` takes precedence over a cookie; an unknown, expired or reused ticket leaves the
socket anonymous (and so refused) even when a cookie is present, rather than falling back.
A ticket socket skips the session lookup altogether: one database trip per handshake fewer,
which is what a storm of phones reconnecting at once is made of.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from notifications.realtime import realtime_tickets_redeem
from notifications.watchdog import handshake_slot

# Handshakes run their short queries on the thread pool, not all on the one thread that
# `database_sync_to_async` uses by default: a storm would otherwise queue behind one connection.
_redeem_all = database_sync_to_async(realtime_tickets_redeem, thread_sensitive=False)

# The most tickets one statement redeems: a storm's batches stay short statements.
BATCH = 200


class _Redeemer:
    """Tickets presented while a redemption is on its way wait for the next one and go
    together. One handshake alone is redeemed at once; in a storm (every phone of a process
    reconnecting after a host or a Redis server went away) each round trip to the database
    serves all the handshakes that arrived meanwhile, instead of two statements and a thread
    hop each."""

    def __init__(self) -> None:
        self.waiting: list[tuple[str, asyncio.Future]] = []
        self.running = False

    async def redeem(self, token: str) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((token, future))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:BATCH], self.waiting[BATCH:]
                try:
                    users = await _redeem_all(tokens=[token for token, _ in batch])
                except Exception as exc:  # noqa: BLE001 - each waiting handshake fails as it would alone
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for token, future in batch:
                    if not future.done():
                        # A token presented twice in one batch: the first copy spends it.
                        future.set_result(users.pop(token, None))
        finally:
            self.running = False


_redeemers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Redeemer] = weakref.WeakKeyDictionary()


async def redeem(token: str) -> Any:
    """The ticket's user, or None; batched with the other handshakes of this event loop."""
    loop = asyncio.get_running_loop()
    redeemer = _redeemers.get(loop)
    if redeemer is None:
        redeemer = _redeemers[loop] = _Redeemer()
    return await redeemer.redeem(token)


class TicketAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.with_session = AuthMiddlewareStack(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        tickets = parse_qs(scope.get("query_string", b"").decode("latin1")).get("ticket")
        if not tickets:
            return await self.with_session(scope, receive, send)
        async with handshake_slot():
            user = await redeem(tickets[0])
        return await self.inner(dict(scope, user=user or AnonymousUser()), receive, send)


def realtime_auth(inner: Any) -> Any:
    """Ticket auth, else Channels' session auth, around the router."""
    return TicketAuthMiddleware(inner)
