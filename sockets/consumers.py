"""The one WebSocket per client at /ws/ (docs/realtime.md: the protocol and its contract).

Thin on purpose: authenticate in `connect`, join the caller's own group, turn each whitelisted
client frame into one service call through `database_sync_to_async`, and forward outbox events.
It never writes a model itself and never broadcasts.

Groups: only the caller's own (`user_group`). Every event a client sees is a row of its own
outbox, which is what makes resume exact, so the desk's and an order's events reach secretaries
and residents through their user groups; a branch or order group would carry the same frames
a second time. `order_group` / `branch_group` stay for frames without an outbox row.

Ordering without duplicates: Channels hands a consumer one message at a time, so live events
that arrive while a `resume` reads the outbox wait in the layer's queue (the buffer) and are
handled after the replay; the ids the replay sent are remembered and a live copy of one of them
is dropped. Clients de-duplicate by id as well. A phone that reconnects with `/ws/?after=<id>`
gets its backlog before any live event at all; a `resume` frame sent later replays in id order
but cannot take back live events already delivered before it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any, TypeGuard
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils.translation import gettext as _

from notifications.events import call_holding_pushes
from notifications.groups import user_group
from notifications.layers import Subscription, subscription_intact, subscription_of
from notifications.realtime import cached_cursor, current_cursor, events_after
from notifications.watchdog import CLOSE_SERVICE_RESTART, CLOSE_TRY_AGAIN, handshake_slot, register, unregister
from orders.errors import OrderError
from orders.services import order_claim
from volunteers.services import volunteer_record_location

logger = logging.getLogger(__name__)

# Close codes a client can act on. Servers may only send 1000 or 3000-4999 (autobahn enforces
# it), so the RFC 6455 meanings are mirrored in the private range: 40xx = 10xx.
CLOSE_POLICY = 4008  # kept flooding after being told (policy violation)

# How many sent ids a socket remembers to drop a duplicate live copy (relay re-push, replay).
_SENT_WINDOW = 256
# A socket that keeps flooding after this many refused frames is closed.
_MAX_REFUSED = 100


class RealtimeConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.user = user
        self.group = user_group(user.pk)
        self.sent: set[int] = set()
        self.tokens = float(settings.REALTIME["FRAME_BURST"])
        self.refill_at = time.monotonic()
        self.refused = 0
        self.located_at = 0.0
        self.closing = False
        self.subscription: Subscription | None = None
        async with handshake_slot():
            try:
                # Join first, then read the cursor: an event committed in between is pushed live.
                await self.channel_layer.group_add(self.group, self.channel_name)
            except Exception:  # noqa: BLE001 - Redis away: refuse, the phone retries and resumes
                logger.warning("channel layer unavailable; refusing a socket")
                await self._try_again_later()
                return
            self.subscription = subscription_of(self.channel_layer, self.group)
            if not subscription_intact(self.subscription):
                # The group's shard is away or its subscriber connection not yet back: the join
                # went through without reaching Redis, and pushes would be lost until it is.
                logger.warning("the group's subscription is not live; refusing a socket")
                await self._try_again_later()
                return
            cursor = cached_cursor()
            if cursor is None:
                cursor = await database_sync_to_async(current_cursor, thread_sensitive=False)()
            await self.accept()
        register(self)
        await self.send_json(
            {
                "type": "hello",
                "cursor": cursor,
                "user": user.pk,
                "retention_seconds": settings.REALTIME["RETENTION_DAYS"] * 86400,
            }
        )
        # `/ws/?after=<id>` resumes before any live event is handled (they wait in the queue),
        # so a reconnecting phone gets its backlog and then live events strictly in id order.
        after = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get("after")
        if after:
            try:
                await self.on_resume({"type": "resume", "after": int(after[0]) if after[0].isdigit() else after[0]})
            except Exception:  # the socket stays usable; the phone can send `resume` again
                logger.exception("resume at connect failed")
                await self._error("internal", _("Something went wrong; try again."))

    async def _try_again_later(self) -> None:
        # Accepted, then closed: a close before the accept would be an HTTP 403, and a phone
        # could not tell "try again later" from "not allowed".
        await self.accept()
        await self.close(code=CLOSE_TRY_AGAIN)

    async def disconnect(self, code: int) -> None:
        unregister(self)
        group = getattr(self, "group", None)
        if group is None:
            return
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:  # noqa: BLE001 - Redis away: the subscription died with it
            logger.debug("group_discard failed for a closing socket")

    # --- client → server ---------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Every frame ends in a reply or an `error` frame; nothing a client sends raises."""
        if not self._take_token():
            await self._refused()
            return
        if text_data is None:
            await self._error("bad_frame", _("Frames must be JSON text."))
            return
        if len(text_data) > settings.REALTIME["MAX_FRAME_BYTES"]:
            await self._error("too_large", _("The frame is too large."))
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: 2,000 `[` fit in 4 KB
            await self._error("bad_json", _("The frame is not valid JSON."))
            return
        if not isinstance(frame, dict):
            await self._error("bad_frame", _("A frame must be a JSON object with a type."))
            return
        kind = frame.get("type")
        handler = self.HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self._error("unknown_type", _("Unknown frame type."), ref=frame.get("ref"))
            return
        try:
            await handler(self, frame)
        except Exception:  # a bug must cost one frame, not the socket
            logger.exception("realtime handler %s failed", frame.get("type"))
            await self._error("internal", _("Something went wrong; try again."), ref=frame.get("ref"))

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.send_json({"type": "pong", "ref": frame.get("ref")})

    async def on_resume(self, frame: dict[str, Any]) -> None:
        after = frame.get("after")
        if not _is_int(after) or after < 0:
            await self._error("invalid", _("after must be the id of the last event you saw (0 or more)."))
            return
        result = await database_sync_to_async(events_after, thread_sensitive=False)(user_id=self.user.pk, after=after)
        if result.resync:
            await self.send_json({"type": "resync", "reason": result.reason, "cursor": result.cursor})
            return
        # What the phone has is remembered as sent: a live copy of it arriving now is dropped.
        self._remember(result.delivered)
        for event in result.frames:
            await self._deliver(event)
        await self.send_json({"type": "resumed", "after": after, "count": len(result.frames), "cursor": result.cursor})

    async def on_claim(self, frame: dict[str, Any]) -> None:
        order, ref = frame.get("order"), frame.get("ref")
        if not _is_int(order) or order <= 0:
            await self._error("invalid", _("order must be an order id."), ref=ref)
            return
        if not isinstance(ref, str | int) or isinstance(ref, bool) or len(str(ref)) > 64:
            await self._error("invalid", _("ref must be a short string or number of your choice."))
            return
        try:
            # Off the shared database thread: claims of different phones run side by side and
            # the conditional UPDATE in the service decides between them. The reply goes out as
            # soon as the claim has committed; its push (withdrawals, the address to the winner)
            # right after it (notifications.events.call_holding_pushes).
            _claimed, push = await database_sync_to_async(call_holding_pushes, thread_sensitive=False)(
                order_claim, order_id=order, user=self.user
            )
        except OrderError as exc:
            await self.send_json({"type": "claim.result", "ref": ref, "order": order, "ok": False, "code": exc.code})
            return
        # The address and phone come separately as `order.assigned`, from the outbox.
        try:
            await self.send_json({"type": "claim.result", "ref": ref, "order": order, "ok": True, "code": None})
        finally:
            await database_sync_to_async(push, thread_sensitive=False)()

    async def on_location(self, frame: dict[str, Any]) -> None:
        lat, lng, accuracy = frame.get("lat"), frame.get("lng"), frame.get("accuracy")
        if not (_is_number(lat) and _is_number(lng)) or (accuracy is not None and not _is_number(accuracy)):
            await self._error("invalid", _("lat and lng must be numbers."))
            return
        now = time.monotonic()
        if now - self.located_at < settings.REALTIME["LOCATION_MIN_SECONDS"]:
            await self._error("rate_limited", _("Location is sent too often."))
            return
        self.located_at = now
        try:
            await database_sync_to_async(volunteer_record_location, thread_sensitive=False)(
                user_id=self.user.pk, lat=float(lat), lng=float(lng), accuracy_m=accuracy
            )
        except OrderError as exc:
            await self._error(exc.code, str(exc.message), fields=exc.fields)

    HANDLERS = {"ping": on_ping, "resume": on_resume, "claim": on_claim, "location": on_location}

    # --- server → client ---------------------------------------------------------------------

    async def outbox_event(self, message: dict[str, Any]) -> None:
        if not subscription_intact(self.subscription):
            # The subscription has been through a disconnection since the join, so this event
            # may come after lost ones; sent, it would raise the phone's last id above them and
            # its resume would skip them. Closed instead: the resume replays them all.
            await self.close_for_restart()
            return
        await self._deliver(message["event"])

    async def close_for_restart(self) -> None:
        if not self.closing:
            self.closing = True
            await self.close(code=CLOSE_SERVICE_RESTART)

    async def realtime_close(self, message: dict[str, Any]) -> None:
        await self.close(code=message.get("code", CLOSE_TRY_AGAIN))

    async def _deliver(self, event: dict[str, Any]) -> None:
        event_id = event["id"]
        if event_id in self.sent:
            return
        self._remember([event_id])
        await self.send_json(event)

    def _remember(self, ids: list[int]) -> None:
        self.sent.update(ids)
        if len(self.sent) > _SENT_WINDOW:
            # Forget the older half: a duplicate that late is left to the client's own check.
            self.sent = set(sorted(self.sent)[_SENT_WINDOW // 2 :])

    async def _error(self, code: str, detail: str, *, ref: Any = None, fields: Any = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if isinstance(ref, str | int) and not isinstance(ref, bool) and len(str(ref)) <= 64:
            frame["ref"] = ref
        if fields:
            frame["fields"] = fields
        await self.send_json(frame)

    # --- flood control -----------------------------------------------------------------------

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate, burst = settings.REALTIME["FRAMES_PER_SECOND"], settings.REALTIME["FRAME_BURST"]
        self.tokens = min(burst, self.tokens + (now - self.refill_at) * rate)
        self.refill_at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def _refused(self) -> None:
        self.refused += 1
        if self.refused >= _MAX_REFUSED:
            await self.close(code=CLOSE_POLICY)
        elif self.refused == 1 or self.refused % 10 == 0:
            # Told once and then now and then: answering every flooded frame would feed the flood.
            await self._error("rate_limited", _("Too many frames; slow down."))


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
