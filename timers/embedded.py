"""The worker inside daphne, for the single-process demo (`make demo`).

With the in-memory channel layer a separate worker process could never reach the phones:
only the daphne process has their sockets. So when `SANDAN_EMBEDDED_WORKER` is on (the
default when DATABASE_URL is unset and not under tests) the loop runs as an asyncio task on
daphne's own event loop; each pass runs in a worker thread (`sync_to_async`), from where
`notifications.events.push_events` reaches daphne's loop the same way a view's does.
It starts only inside daphne (its reactor is what runs the loop): `manage.py` commands, the
test suite and a production web process (DATABASE_URL set) never start it.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from asgiref.sync import sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)
_started = False


def start_if_enabled() -> bool:
    global _started
    if _started or not settings.SANDAN_EMBEDDED_WORKER or "daphne.server" not in sys.modules:
        return False
    _reactor().callWhenRunning(_start_task)
    _started = True
    return True


def _reactor():
    from twisted.internet import reactor  # daphne has installed its asyncio reactor by now

    return reactor


_tasks: set[asyncio.Task] = set()


def _start_task() -> None:
    task = asyncio.get_running_loop().create_task(_loop())
    _tasks.add(task)  # keep a reference: the loop holds tasks only weakly
    logger.info("embedded worker started inside daphne")


async def _loop() -> None:
    from timers.worker import Worker, worker_name

    worker = Worker(name=worker_name("embedded"))
    while True:
        await sync_to_async(worker.run_safely, thread_sensitive=False)()
        await asyncio.sleep(1.0)
