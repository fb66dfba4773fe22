"""HTTP requests under daphne run on a fixed set of threads (project/lanes.py), not a new one each.

Django's own ASGI handler starts a thread for every request; under load that cost about as much
CPU as a small request itself (docs/performance.md, HTTP). With lanes, a process runs at most
HTTP_THREADS requests at once on threads it keeps, and the rest wait their turn without failing.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.testing import HttpCommunicator
from django.core.handlers.asgi import ASGIHandler

from project.lanes import LaneASGIHandler, get_http_application
from tests.project import lane_urls

pytestmark = pytest.mark.urls("tests.project.lane_urls")


@pytest.fixture(autouse=True)
def _fresh_notes():
    lane_urls.seen.update(threads=set(), running=0, most=0)


def _burst(application, count: int) -> list[int]:
    async def all_at_once() -> list[int]:
        return list(await asyncio.gather(*(_get(application) for _ in range(count))))

    # asyncio.run, as daphne's loop: no outer sync thread.
    return asyncio.run(all_at_once())


def test_a_burst_of_requests_runs_on_the_lanes_threads_and_no_more_at_once():
    statuses = _burst(LaneASGIHandler(3), 24)

    assert statuses == [200] * 24  # the ones that waited for a lane were served, not refused
    assert len(lane_urls.seen["threads"]) <= 3
    assert lane_urls.seen["most"] <= 3


def test_the_lanes_threads_are_kept_from_one_burst_to_the_next():
    handler = LaneASGIHandler(2)
    _burst(handler, 6)
    first = set(lane_urls.seen["threads"])
    _burst(handler, 6)

    assert lane_urls.seen["threads"] == first


def test_django_s_own_handler_starts_a_thread_per_request():
    # Why the lanes exist; HTTP_THREADS=0 keeps this behaviour.
    _burst(ASGIHandler(), 8)

    assert len(lane_urls.seen["threads"]) == 8


def test_http_threads_chooses_the_handler():
    assert isinstance(get_http_application(4), LaneASGIHandler)
    assert get_http_application(4).lanes.count == 4
    assert type(get_http_application(0)) is ASGIHandler


def test_a_request_that_gave_up_waiting_for_a_lane_does_not_lose_it():
    handler = LaneASGIHandler(1)

    async def scenario() -> list[int]:
        async with handler.lanes.lane():
            gave_up = asyncio.ensure_future(_wait_for_a_lane(handler))
            await asyncio.sleep(0)
            gave_up.cancel()
        # The lane came back: three requests one after the other are all served.
        return [await _get(handler) for _ in range(3)]

    assert asyncio.run(scenario()) == [200, 200, 200]


async def _wait_for_a_lane(handler: LaneASGIHandler) -> None:
    async with handler.lanes.lane():
        pass


async def _get(application) -> int:
    request = HttpCommunicator(application, "GET", "/thread", headers=[(b"host", b"localhost")])
    response = await request.get_response(timeout=10)
    await request.wait()
    return response["status"]


def test_a_request_goes_to_its_lane_once_and_never_back_to_the_event_loop(monkeypatch):
    """The middleware and the view run in one trip to the lane: no sync middleware hands the
    request back to the event loop (async_to_sync) to have the view sent to the thread again,
    a wait on a busy loop for every request under load."""
    from asgiref import sync

    to_loop: list[object] = []
    real_async_to_sync = sync.AsyncToSync.__call__

    def counted(self, *args, **kwargs):
        to_loop.append(self)
        return real_async_to_sync(self, *args, **kwargs)

    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted)
    statuses = _burst(LaneASGIHandler(2), 1)

    assert statuses == [200]
    assert to_loop == []
    assert lane_urls.seen["threads"] and threading.main_thread().ident not in lane_urls.seen["threads"]
