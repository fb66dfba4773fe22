"""`manage.py run_worker`: the Procfile's worker. Run as many as you like, anywhere."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from timers.worker import Worker


class Command(BaseCommand):
    help = "Run SLA timers, notification delivery and the outbox relay until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one full pass and exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between passes.")
        parser.add_argument("--name", default=None, help="Worker name (default: host:pid:random).")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = Worker(name=options["name"])
        if options["once"]:
            report = worker.run_once(force_tick=True)
            self.stdout.write(str(report))
            return
        stop = threading.Event()
        # SIGTERM (deploys, scaling down) finishes the current pass instead of cutting it.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        worker.run_forever(stop=stop, interval=options["interval"])
