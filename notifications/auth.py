"""Who is on the other end of /ws/: the session cookie (browsers) or a single-use ticket (apps).

A `?ticket=` takes precedence over a cookie; an unknown, expired or reused ticket leaves the
socket anonymous (and so refused) even when a cookie is present, rather than falling back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from notifications.realtime import realtime_ticket_redeem


class TicketAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin1"))
        tickets = query.get("ticket")
        if tickets:
            user = await database_sync_to_async(realtime_ticket_redeem)(token=tickets[0])
            scope = dict(scope, user=user or AnonymousUser())
        return await super().__call__(scope, receive, send)


def realtime_auth(inner: Any) -> Any:
    """Session auth (Channels' stack) around ticket auth around the router."""
    return AuthMiddlewareStack(TicketAuthMiddleware(inner))
