"""The Redis pub/sub channel layer, plus one batch send for the outbox push.

channels-redis' `group_send` is one PUBLISH and one round trip to Redis, taken under the
shard's lock, so a dispatch to 20 volunteers made 20 round trips one after the other on
daphne's event loop, between which the loop also delivers the frames already published.
`group_send_many` sends a whole push in one pipeline: one round trip per shard, in the order
given (Redis runs a connection's commands in order, so each recipient still gets its events
in id order).

It also says whether a group's subscription is still the one made when a socket joined
(`subscription` and `intact`). A subscription lives on the shard's one subscriber connection
and dies with it; redis-py reconnects on its own and subscribes again, but whatever was
published in between is gone, and a group joined while that connection was down or not yet
reconnected (channels-redis skips the SUBSCRIBE of a group it believes it has) hears nothing
until it is. A socket must then not go on as if nothing had happened: a live event after a
gap would make the phone's last id jump over the lost ones, and its resume would skip them.

It leans on the pub/sub layer's internals (`_get_layer`, a shard's `_lock`, `_redis`,
`_pubsub`); the version is pinned in requirements.txt, and tests/notifications/test_layers.py
and tests/cluster/test_redis_shards.py check them against the real layer on Redis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer


class PubSubChannelLayer(RedisPubSubChannelLayer):
    async def group_send_many(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> list[int]:
        """`group_send` each (group, message), pipelined: one round trip per Redis shard.

        Returns the positions (in `messages`) of those sent. With several shards (REDIS_URLS)
        one may be away while the others are up: their messages still go, and the caller
        leaves only the failed ones for the relay; were they all left, the relay would send
        the delivered ones a second time. Raises the first shard's error when none was sent."""
        layer = self._get_layer()
        by_shard: dict[Any, list[tuple[int, str, bytes]]] = {}
        for n, (group, message) in enumerate(messages):
            channel = layer._get_group_channel_name(group)
            by_shard.setdefault(layer._get_shard(channel), []).append((n, channel, self.serialize(message)))
        sent: list[int] = []
        error: Exception | None = None
        for shard, items in by_shard.items():
            try:
                async with shard._lock:
                    shard._ensure_redis()
                    async with shard._redis.pipeline(transaction=False) as pipe:
                        for _, channel, data in items:
                            pipe.publish(channel, data)
                        await pipe.execute()
            except Exception as exc:  # noqa: BLE001 - this shard is away; the others still go
                error = error or exc
                continue
            sent.extend(n for n, _, _ in items)
        if error is not None and not sent:
            raise error
        return sorted(sent)

    def subscription(self, group: str) -> Subscription | None:
        """What `group`'s subscription in this process stands on now (right after `group_add`):
        its shard's subscriber connection and how many times that connection had connected."""
        layer = self._get_layer()
        shard = layer._get_shard(layer._get_group_channel_name(group))
        pubsub = shard._pubsub
        connection = pubsub.connection if pubsub is not None else None
        if connection is None:
            return None
        connects = getattr(connection, "_sandan_connects", None)
        if connects is None:
            connects = connection._sandan_connects = _Connects()
            connection.register_connect_callback(connects.count_one)
        return Subscription(shard, connection, connects, connects.count)


class _Connects:
    """How many times one subscriber connection has (re)connected, counted by redis-py's own
    connect callback (kept on the connection: redis-py holds it by a weak reference)."""

    def __init__(self) -> None:
        self.count = 0

    def count_one(self, _connection: Any) -> None:
        self.count += 1


@dataclass(frozen=True)
class Subscription:
    shard: Any
    connection: Any
    connects: _Connects
    at: int

    def intact(self) -> bool:
        """True while the subscription has not been through a disconnection: the same
        connection, connected now, and not reconnected since. A reconnection subscribes
        again, but what was published while it was away never arrives."""
        pubsub = self.shard._pubsub
        return (
            pubsub is not None
            and pubsub.connection is self.connection
            and self.connection.is_connected
            and self.connects.count == self.at
        )


def subscription_of(layer: Any, group: str) -> Subscription | None:
    """The socket's group subscription on a pub/sub layer (None on a layer without shards)."""
    return layer.subscription(group) if isinstance(layer, PubSubChannelLayer) else None


def subscription_intact(subscription: Subscription | None) -> bool:
    """Whether a socket's group subscription can still be trusted to deliver everything. A layer
    without one (the in-memory layer of the embedded setup and the tests) loses nothing."""
    return subscription is None or subscription.intact()
