"""The channel layer over several Redis servers (REDIS_URLS): each user's group lives on one
shard by channels-redis' consistent hash, pushes reach every shard, and a shard that restarts
closes the sockets so that phones resume (the watchdog watches every shard)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from notifications import watchdog
from notifications.groups import user_group
from notifications.layers import PubSubChannelLayer
from tests.cluster.redisd import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]


def _settings_with(env: dict[str, str]) -> dict:
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'hosts': [h['address'] for h in s.CHANNEL_LAYERS['default']['CONFIG']['hosts']],"
        " 'cache': s.CACHES['default']['LOCATION']}))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_redis_urls_shard_the_channel_layer_and_the_cache_stays_on_redis_url():
    got = _settings_with(
        {"REDIS_URL": "redis://10.0.0.1:6391/0", "REDIS_URLS": "redis://10.0.0.1:6391/0, redis://10.0.0.1:6392/0"}
    )
    assert got == {"hosts": ["redis://10.0.0.1:6391/0", "redis://10.0.0.1:6392/0"], "cache": "redis://10.0.0.1:6391/0"}


def test_without_redis_urls_the_one_redis_url_is_the_only_shard():
    got = _settings_with({"REDIS_URL": "redis://10.0.0.1:6391/3", "REDIS_URLS": ""})
    assert got == {"hosts": ["redis://10.0.0.1:6391/3"], "cache": "redis://10.0.0.1:6391/3"}


@pytest.fixture
def two_shards():
    shards = [RedisServer(free_port()).start(), RedisServer(free_port()).start()]
    yield shards
    for shard in shards:
        shard.stop()


@pytest.mark.redis
def test_pushes_to_users_on_both_shards_each_arrive_once(two_shards):
    layer = PubSubChannelLayer(hosts=[s.url for s in two_shards], prefix=f"test-{uuid.uuid4().hex[:8]}")
    users = list(range(1, 41))

    async def scenario() -> tuple[dict[int, list[int]], list[int]]:
        channels = {uid: await layer.new_channel() for uid in users}
        for uid, channel in channels.items():
            await layer.group_add(user_group(uid), channel)
        # Where each group lives, as the servers themselves say (its subscription).
        subscribed = []
        for shard in two_shards:
            client = redis.Redis.from_url(shard.url)
            subscribed.append(sum(1 for name in client.pubsub_channels() if b"user" in name))
            client.close()
        await layer.group_send_many([(user_group(uid), {"type": "x", "n": uid}) for uid in users])
        got: dict[int, list[int]] = {}
        async with asyncio.timeout(10):
            for uid, channel in channels.items():
                got[uid] = [(await layer.receive(channel))["n"]]
        await layer.flush()
        return got, subscribed

    got, subscribed = asyncio.run(scenario())
    assert got == {uid: [uid] for uid in users}
    # Both servers carry some of the groups, and together all of them.
    assert all(n > 0 for n in subscribed) and sum(subscribed) == len(users)


class _Socket:
    def __init__(self) -> None:
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()

    async def close(self, code: int) -> None:
        if not self.closed.done():
            self.closed.set_result(code)


@pytest.mark.redis
def test_a_restarted_second_shard_closes_the_sockets_so_they_resume(two_shards):
    async def scenario() -> int:
        watch = asyncio.create_task(watchdog._watch_all([s.url for s in two_shards], 0.1))
        socket = _Socket()
        watchdog._sockets.add(socket)
        try:
            await asyncio.sleep(0.5)  # the watch has seen both shards' run_id
            assert not socket.closed.done()
            second = two_shards[1]
            second.stop()
            second.start()
            async with asyncio.timeout(10):
                return await socket.closed
        finally:
            watchdog._sockets.discard(socket)
            watch.cancel()

    assert asyncio.run(scenario()) == watchdog.CLOSE_SERVICE_RESTART


@pytest.mark.redis
def test_with_one_shard_away_the_other_shards_pushes_still_go(two_shards):
    layer = PubSubChannelLayer(hosts=[s.url for s in two_shards], prefix=f"test-{uuid.uuid4().hex[:8]}")
    users = list(range(1, 21))

    async def scenario() -> tuple[list[int], set[int]]:
        inner = layer._get_layer()
        second = inner._shards[1]
        on_second = {u for u in users if inner._get_shard(inner._get_group_channel_name(user_group(u))) is second}
        for uid in users:
            await layer.group_add(user_group(uid), await layer.new_channel())
        two_shards[0].stop()
        try:
            return await layer.group_send_many([(user_group(uid), {"type": "x"}) for uid in users]), on_second
        finally:
            await layer.flush()

    sent, on_second = asyncio.run(scenario())
    assert on_second and len(on_second) < len(users)
    assert {users[n] for n in sent} == on_second


@pytest.mark.django_db
def test_only_the_events_a_shard_took_are_marked_pushed(
    volunteer, volunteer2, monkeypatch, django_capture_on_commit_callbacks
):
    from notifications import events
    from notifications.models import Event

    class HalfAway:
        async def group_send_many(self, messages):
            return [n for n, (group, _) in enumerate(messages) if group == user_group(volunteer.pk)]

    monkeypatch.setattr(events, "get_channel_layer", lambda: HalfAway())
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(recipients=[volunteer.pk, volunteer2.pk], kind="order.updated", payload={})

    pushed = dict(Event.objects.values_list("recipient_id", "pushed_at"))
    assert pushed[volunteer.pk] is not None
    assert pushed[volunteer2.pk] is None  # left for the relay, which sends it once the shard is back


@pytest.mark.redis
def test_a_subscription_through_a_shard_restart_says_it_broke_and_an_intact_one_hears(two_shards):
    """What sockets.consumers trusts: a group joined before its shard restarted, or joined again
    before the layer's subscriber connection was back (channels-redis then skips the SUBSCRIBE),
    is not intact; a join that stays intact hears every push."""
    layer = PubSubChannelLayer(hosts=[s.url for s in two_shards], prefix=f"test-{uuid.uuid4().hex[:8]}")
    inner: Any = None
    second: Any = None

    async def channel_on_the_first_shard() -> str:
        # The socket's own channel on the shard that stays up: joining the group is then the
        # only thing that would reach the restarted one.
        while True:
            name = f"{inner.prefix}specific.{uuid.uuid4().hex}"  # as new_channel() names them
            if inner._get_shard(name) is not second:
                await inner._subscribe_to_channel(name)
                return name

    async def scenario() -> tuple[bool, bool, list[tuple[float, bool, bool]]]:
        nonlocal inner, second
        inner = layer._get_layer()
        second = inner._shards[1]
        group = next(
            g for g in map(user_group, range(1, 200)) if inner._get_shard(inner._get_group_channel_name(g)) is second
        )
        publisher = PubSubChannelLayer(hosts=[s.url for s in two_shards], prefix=inner.prefix)
        before = await channel_on_the_first_shard()
        await layer.group_add(group, before)
        joined_before = layer.subscription(group)
        intact_at_first = joined_before.intact()
        two_shards[1].stop()
        await asyncio.sleep(0.5)  # away for a moment: the layer's receiving task sees it
        with contextlib.suppress(Exception):  # as a socket closing while the shard is away
            await layer.group_discard(group, before)
        two_shards[1].start()
        outcomes = []
        for delay in (0.0, 0.05, 0.3, 2.0):  # rejoining at once, then later
            await asyncio.sleep(delay)
            channel = await channel_on_the_first_shard()
            try:
                await layer.group_add(group, channel)
            except Exception:  # the socket would be refused (4013): nothing to check
                outcomes.append((delay, False, False))
                continue
            joined = layer.subscription(group)
            await publisher.group_send(group, {"type": "x"})
            try:
                async with asyncio.timeout(3):
                    await layer.receive(channel)
                heard = True
            except TimeoutError:
                heard = False
            outcomes.append((delay, joined.intact(), heard))
            await layer.group_discard(group, channel)
        await publisher.flush()
        await layer.flush()
        return intact_at_first, joined_before.intact(), outcomes

    intact_at_first, intact_after_restart, outcomes = asyncio.run(scenario())
    assert intact_at_first is True
    assert intact_after_restart is False
    # Rejoined at once, the group could not hear the push: and it says so.
    assert outcomes[0][1:] == (False, False)
    # Whenever a join is still intact after its push, the push was heard.
    assert all(heard for _, intact, heard in outcomes if intact), outcomes
    # Once the layer is back on the shard, a join is intact and hears.
    assert outcomes[-1][1:] == (True, True)
