"""The batch send of notifications.layers against the real pub/sub layer on Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.conf import settings

from notifications.layers import PubSubChannelLayer

pytestmark = pytest.mark.redis


def test_group_send_many_reaches_each_group_in_the_order_given():
    layer = PubSubChannelLayer(hosts=[settings.REDIS_URL], prefix=f"test-{uuid.uuid4().hex[:8]}")

    async def scenario() -> tuple[list[int], list[int]]:
        first, second = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("user.1", first)
        await layer.group_add("user.2", second)
        await layer.group_send_many(
            [("user.1", {"type": "x", "n": 1}), ("user.2", {"type": "x", "n": 2}), ("user.1", {"type": "x", "n": 3})]
        )
        async with asyncio.timeout(5):
            got_first = [(await layer.receive(first))["n"] for _ in range(2)]
            got_second = [(await layer.receive(second))["n"]]
        await layer.flush()
        return got_first, got_second

    assert asyncio.run(scenario()) == ([1, 3], [2])
