"""Who is on the other end of /ws/: the session cookie (browsers) or a single-use ticket (apps).

A `?ticket=` takes precedence over a cookie; an unknown, expired or reused ticket leaves the
socket anonymous (and so refused) even when a cookie is present, rather than falling back.
A ticket socket skips the session lookup altogether: one database trip per handshake fewer,
which is what a storm of phones reconnecting at once is made of.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from notifications.realtime import realtime_ticket_redeem
from notifications.watchdog import handshake_slot

# Handshakes run their short queries on the thread pool, not all on the one thread that
# `database_sync_to_async` uses by default: a storm would otherwise queue behind one connection.
redeem = database_sync_to_async(realtime_ticket_redeem, thread_sensitive=False)


class TicketAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.with_session = AuthMiddlewareStack(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        tickets = parse_qs(scope.get("query_string", b"").decode("latin1")).get("ticket")
        if not tickets:
            return await self.with_session(scope, receive, send)
        async with handshake_slot():
            user = await redeem(token=tickets[0])
        return await self.inner(dict(scope, user=user or AnonymousUser()), receive, send)


def realtime_auth(inner: Any) -> Any:
    """Ticket auth, else Channels' session auth, around the router."""
    return TicketAuthMiddleware(inner)
