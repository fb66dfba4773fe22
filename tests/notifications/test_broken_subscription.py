"""A socket whose group subscription broke (its Redis shard restarted, its subscriber
connection dropped) never sends a live event after the break: it closes, and the phone's
resume replays what it missed. Found by the cluster scenario (bench/cluster.py), where phones
that rejoined just after a shard restart missed the pushes of the next second for good.

The subscription is stood in for here (the in-memory layer has none); the real one is tested
against restarted redis-servers in tests/cluster/test_redis_shards.py."""

from __future__ import annotations

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from notifications import watchdog
from notifications.events import publish
from project.asgi import application
from sockets import consumers
from tests.notifications.conftest import ORIGIN, db, drain, kinds, open_socket, run, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


class StandIn:
    """A subscription that can be broken on purpose."""

    def __init__(self) -> None:
        self.broken = False

    def intact(self) -> bool:
        return not self.broken


@pytest.fixture
def subscription(monkeypatch):
    stand_in = StandIn()
    monkeypatch.setattr(consumers, "subscription_of", lambda layer, group: stand_in)
    return stand_in


def test_a_join_that_did_not_reach_redis_is_told_to_try_again(subscription, volunteer):
    subscription.broken = True

    async def scenario():
        comm, connected = await open_without_hello(volunteer)
        closed = await comm.receive_output(timeout=10)
        await comm.wait()
        return connected, closed

    connected, closed = run(scenario)
    assert connected is True
    assert closed == {"type": "websocket.close", "code": watchdog.CLOSE_TRY_AGAIN}


def test_after_a_break_the_next_event_closes_the_socket_and_the_resume_brings_it(subscription, volunteer):
    def notice(n: int) -> None:
        publish(recipients=[volunteer.pk], kind="order.notice", payload={"n": n})

    async def scenario():
        phone, _, _ = await open_socket(volunteer)
        await db(notice)(1)
        [first] = await drain(phone, 1)
        subscription.broken = True  # the shard restarted: what follows may come after lost pushes
        await db(notice)(2)
        closed = await phone.receive_output(timeout=10)
        await phone.wait()
        subscription.broken = False  # the phone reconnects once the subscription is live again
        again, _, _ = await open_socket(volunteer, query=f"after={first['id']}")
        replayed = await drain(again, 2)
        await again.disconnect()
        return first, closed, replayed

    first, closed, replayed = run(scenario)
    assert first["payload"] == {"n": 1}
    # The event that came after the break was not sent on the broken socket: it closed instead.
    assert closed == {"type": "websocket.close", "code": watchdog.CLOSE_SERVICE_RESTART}
    assert kinds(replayed) == ["order.notice", "resumed"]
    assert replayed[0]["payload"] == {"n": 2}


def test_a_socket_that_gets_no_event_after_its_break_is_closed_by_the_sweep(subscription, volunteer):
    async def scenario():
        phone, _, _ = await open_socket(volunteer)
        sweep = asyncio.create_task(watchdog._sweep(0.05))
        try:
            await asyncio.sleep(0.3)
            still_open = await phone.receive_nothing(timeout=0.1)
            subscription.broken = True
            closed = await phone.receive_output(timeout=10)
        finally:
            sweep.cancel()
        await phone.wait()
        return still_open, closed

    still_open, closed = run(scenario)
    assert still_open is True
    assert closed == {"type": "websocket.close", "code": watchdog.CLOSE_SERVICE_RESTART}


async def open_without_hello(user) -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"host", b"127.0.0.1"), (b"origin", ORIGIN), (b"cookie", await db(session_cookie)(user))]
    comm = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await comm.connect(timeout=15)
    return comm, connected
