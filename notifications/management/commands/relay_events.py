"""Re-push outbox events whose after-commit push never happened (a process died, Redis was away).

    python manage.py relay_events            # loop every second until Ctrl-C / SIGTERM
    python manage.py relay_events --once     # one pass (cron, tests)

Also prunes the outbox beyond the retention and expired tickets, once an hour.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from notifications.events import relay_unpushed
from notifications.realtime import events_prune, realtime_tickets_prune

PRUNE_EVERY_SECONDS = 3600


class Command(BaseCommand):
    help = "Push outbox events that were committed but never pushed (loop; Ctrl-C to stop)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between passes.")

    def handle(self, *args: Any, once: bool = False, interval: float = 1.0, **options: Any) -> None:
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        # Finish the current pass, then exit: a pass is one short transaction.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        pruned_at = 0.0
        while not stopping:
            close_old_connections()
            try:
                pushed = relay_unpushed()
                if pushed:
                    self.stdout.write(f"relayed {pushed} events")
                if time.monotonic() - pruned_at > PRUNE_EVERY_SECONDS:
                    events_prune()
                    realtime_tickets_prune()
                    pruned_at = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - database away: try again next pass
                self.stderr.write(f"relay pass failed: {exc.__class__.__name__}")
            if once:
                break
            # Sleep in small steps so that Ctrl-C stops within a tenth of a second.
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.1)
