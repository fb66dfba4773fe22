"""Real daphne processes on PostgreSQL and Redis: claims raced across processes, Redis outages."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from django.conf import settings
from django.db import connections

from notifications.realtime import realtime_ticket_issue
from orders import services
from orders.models import Order
from tests.factories import VolunteerFactory
from tests.notifications.live import (
    ORIGIN,
    free_port,
    http,
    login,
    start_daphne,
    start_redis,
    stop,
    wait_http,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _ticket(user) -> str:
    return realtime_ticket_issue(user=user)[0]


async def _connect(port: int, ticket: str):
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/?ticket={ticket}", origin=ORIGIN, open_timeout=20)
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello"
    return ws, hello


async def _until(ws, predicate, within: float = 20) -> dict:
    async with asyncio.timeout(within):
        while True:
            frame = json.loads(await ws.recv())
            if predicate(frame):
                return frame


def _in_thread(fn, *args, **kwargs):
    """Run ORM code on a worker thread with its own connection, closed afterwards."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return asyncio.to_thread(call)


def test_claims_raced_through_two_daphne_processes_have_exactly_one_winner(world, submit, advance, secretary):
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    ports = [free_port(), free_port()]
    servers = [start_daphne(port, redis_url=settings.REDIS_URL, prefix=prefix) for port in ports]
    volunteers = [VolunteerFactory(branches=[world.north_branch]).user for _ in range(6)]
    orders = [advance(submit(), "accepted") for _ in range(2)]
    tickets = [[_ticket(v) for v in volunteers] for _ in orders]
    try:
        for port in ports:
            wait_http(port)

        async def race(order: Order, round_tickets: list[str]) -> list[dict]:
            sockets = [(await _connect(ports[i % 2], t))[0] for i, t in enumerate(round_tickets)]
            try:
                await _in_thread(
                    services.order_dispatch,
                    order_id=order.pk,
                    user=secretary,
                    mode="pool",
                    volunteers=[v.volunteer.pk for v in volunteers],
                )
                for ws in sockets:
                    await _until(ws, lambda f: f.get("kind") == "offer.new" and f["payload"]["order"] == order.pk)
                # Every phone taps at the same instant, half of them on each process.
                await asyncio.gather(
                    *(
                        ws.send(json.dumps({"type": "claim", "order": order.pk, "ref": i}))
                        for i, ws in enumerate(sockets)
                    )
                )
                results = [await _until(ws, lambda f: f["type"] == "claim.result") for ws in sockets]
                winner = next(i for i, r in enumerate(results) if r["ok"])
                assigned = await _until(sockets[winner], lambda f: f.get("kind") == "order.assigned")
                assert assigned["payload"]["order"]["contact_phone"]
                for i, ws in enumerate(sockets):
                    if i != winner:
                        await _until(ws, lambda f: f.get("kind") == "offer.withdrawn")
                return results
            finally:
                for ws in sockets:
                    await ws.close()

        for order, round_tickets in zip(orders, tickets, strict=True):
            results = asyncio.run(race(order, round_tickets))
            assert sum(r["ok"] for r in results) == 1, results
            assert {r["code"] for r in results if not r["ok"]} == {"already_claimed"}
            order.refresh_from_db()
            assert order.status == "claimed"
            assert order.volunteer.user_id == volunteers[next(i for i, r in enumerate(results) if r["ok"])].pk
    finally:
        for server in servers:
            stop(server)


def test_rest_keeps_working_while_redis_is_down_and_sockets_catch_up_by_resume(world, resident, secretary, volunteer):
    redis_port, web = free_port(), free_port()
    redis = start_redis(redis_port)
    server = start_daphne(
        web,
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        prefix=f"outage-{uuid.uuid4().hex[:6]}",
        REALTIME_REDIS_WATCHDOG_SECONDS="1",
    )
    try:
        wait_http(web)
        tokens = {u.username: login(web, u.username) for u in (resident, secretary, volunteer)}

        async def scenario() -> tuple[list[dict], dict]:
            nonlocal redis
            ws, hello = await _connect(web, await _in_thread(_ticket, volunteer))
            redis.kill()
            redis.wait()
            # The process notices and closes its sockets so that they reconnect and resume.
            async with asyncio.timeout(15):
                await ws.wait_closed()
            assert ws.close_code == 4012

            # Redis is down: residents still order, the desk still dispatches, volunteers still claim.
            status, order = await asyncio.to_thread(
                http, web, "POST", "/api/v1/orders", {"category": "errands", "description": "Bread"}, tokens["resident"]
            )
            assert status == 201, order
            oid = order["id"]
            for path, body, who in [
                (f"/api/v1/orders/{oid}/accept", None, "secretary"),
                (
                    f"/api/v1/orders/{oid}/dispatch",
                    {"mode": "direct", "volunteer": volunteer.volunteer.pk},
                    "secretary",
                ),
                (f"/api/v1/orders/{oid}/claim", None, "volunteer"),
            ]:
                status, body = await asyncio.to_thread(http, web, "POST", path, body, tokens[who])
                assert status == 200, (path, body)

            # While Redis is away a new socket is refused, not half-open: accepted and closed at
            # once with 4013, "try again later" (an HTTP 500 before).
            with pytest.raises(websockets.ConnectionClosed) as refused:
                await _connect(web, await _in_thread(_ticket, volunteer))
            assert refused.value.rcvd is not None and refused.value.rcvd.code == 4013

            redis = start_redis(redis_port)
            async with asyncio.timeout(20):
                while True:
                    try:
                        ws, _ = await _connect(web, await _in_thread(_ticket, volunteer))
                        break
                    except (websockets.ConnectionClosed, websockets.InvalidHandshake, OSError):
                        await asyncio.sleep(0.3)
            await ws.send(json.dumps({"type": "resume", "after": hello["cursor"]}))
            replay = []
            while True:
                frame = await _until(ws, lambda f: f["type"] in {"event", "resumed", "resync"})
                if frame["type"] != "event":
                    break
                replay.append(frame)
            assert frame["type"] == "resumed"
            # Live again: starting the order reaches the phone without a resume.
            status, _ = await asyncio.to_thread(
                http, web, "POST", f"/api/v1/orders/{oid}/start", None, tokens["volunteer"]
            )
            assert status == 200
            live = await _until(ws, lambda f: f.get("kind") == "order.updated")
            await ws.close()
            return replay, live

        replay, live = asyncio.run(scenario())
        ids = [f["id"] for f in replay]
        assert ids == sorted(set(ids))
        assert [f["kind"] for f in replay][:1] == ["offer.new"]
        assert "order.assigned" in [f["kind"] for f in replay]
        assert live["payload"]["order"]["status"] == "in_progress"
        assert live["id"] > ids[-1]
    finally:
        stop(server)
        stop(redis)


def test_a_frame_over_a_mebibyte_closes_the_socket_with_1009(world, volunteer):
    web = free_port()
    server = start_daphne(web, redis_url=settings.REDIS_URL, prefix=f"big-{uuid.uuid4().hex[:6]}")
    try:
        wait_http(web)

        async def scenario() -> int | None:
            ws, _hello = await _connect(web, await _in_thread(_ticket, volunteer))
            await ws.send("x" * (1024 * 1024 + 1))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(20):
                    while True:
                        await ws.recv()
            return closed.value.rcvd.code if closed.value.rcvd is not None else None

        # Closed with 1009 (message too big), not a dropped TCP connection without a close frame.
        assert asyncio.run(scenario()) == 1009
    finally:
        stop(server)
