"""The worker loop (Procfile `worker`, or embedded in daphne for the demo).

Every second: relay outbox events whose after-commit push never happened, and deliver
notifications (push, email, SMS). Every `TICK_SECONDS`: run the SLA timers and forget stale
live locations (`volunteer_expire_live_locations`). Nothing lives
only in this process's memory: a worker can be killed at any point and another (or the same,
restarted) picks the work up from the database.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from notifications.delivery.dispatch import deliveries_run
from notifications.events import relay_unpushed
from timers.digest import digest_send_if_due
from timers.services import timers_tick
from volunteers.services import volunteer_expire_live_locations

logger = logging.getLogger(__name__)


def worker_name(suffix: str = "") -> str:
    """Unique per process start: a restarted worker must not mistake old leases for its own."""
    name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return f"{name}:{suffix}" if suffix else name


class Worker:
    def __init__(self, *, name: str | None = None, tick_seconds: float | None = None, batch: int = 50) -> None:
        self.name = name or worker_name()
        self.tick_seconds = settings.SANDAN_TIMERS["TICK_SECONDS"] if tick_seconds is None else tick_seconds
        self.batch = batch
        self._last_tick = float("-inf")
        self._backlog = False

    def run_once(self, *, now: datetime | None = None, force_tick: bool = False) -> dict[str, Any]:
        """One pass of the loop. `now` drives the timers' clock (tests, benchmarks).

        A pass runs at most one batch per timer step, so that with a backlog of due timers the
        relay and the deliveries still get their turn every few seconds; while there is a
        backlog the next pass runs the timers again without waiting for the tick."""
        report: dict[str, Any] = {"relayed": relay_unpushed()}
        if force_tick or self._backlog or time.monotonic() - self._last_tick >= self.tick_seconds:
            self._last_tick = time.monotonic()
            result = timers_tick(now=now, worker=self.name, limit=self.batch, rounds=1)
            self._backlog = result.total > 0
            report["timers"] = result.fired
            report["digest"] = digest_send_if_due(now=now or timezone.now())
            report["live_expired"] = volunteer_expire_live_locations(now=now)
        report["deliveries"] = deliveries_run(now=now or timezone.now(), worker=self.name)
        return report

    def run_safely(self) -> dict[str, Any] | None:
        """`run_once` that never raises: a database blip must not end the loop."""
        close_old_connections()
        try:
            return self.run_once()
        except Exception:
            logger.exception("worker %s: pass failed; retrying", self.name)
            return None
        finally:
            close_old_connections()

    def run_forever(self, *, stop: threading.Event, interval: float = 1.0) -> None:
        logger.info("worker %s started", self.name)
        while not stop.is_set():
            self.run_safely()
            stop.wait(interval)
        logger.info("worker %s stopped", self.name)
