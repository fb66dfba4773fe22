"""The Redis pub/sub channel layer, plus one batch send for the outbox push.

channels-redis' `group_send` is one PUBLISH and one round trip to Redis, taken under the
shard's lock, so a dispatch to 20 volunteers made 20 round trips one after the other on
daphne's event loop, between which the loop also delivers the frames already published.
`group_send_many` sends a whole push in one pipeline: one round trip per shard, in the order
given (Redis runs a connection's commands in order, so each recipient still gets its events
in id order).

It leans on the pub/sub layer's internals (`_get_layer`, a shard's `_lock`, `_redis`); the
version is pinned in requirements.txt, and tests/notifications/test_layers.py checks the
batch against the real layer on Redis.
"""

from __future__ import annotations

from collections.abc import Iterable
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
