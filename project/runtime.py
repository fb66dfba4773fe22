"""Process-wide tuning for the daphne processes (called once from project/asgi.py).

Garbage collection: with 2,000 sockets a daphne process holds several hundred thousand tracked
objects, and every full (generation 2) collection walks all of them: 300-400 ms measured, during
which the event loop delivers nothing. Python's default thresholds (700, 10, 10) promote each request's objects
into the old generation, so under a steady trickle of dispatches and claims a full collection
came every few seconds (docs/performance.md, Realtime). Two measures:

- `gc.freeze()` once the application is built: what Django and the app imported at startup
  (~160,000 objects) lives as long as the process and is no longer scanned by any collection.
- Larger thresholds: young collections every REALTIME["GC_THRESHOLD"] allocations, so a
  request's garbage dies young instead of being promoted, and a full collection is considered
  only after 100 middle ones. Cyclic garbage is still collected; it may wait longer.

Thread switching: a request's view runs on a worker thread while the event loop delivers the
frames its push produced; with Python's 5 ms switch interval the loop can wait up to 5 ms for
the GIL each time it gave it up (a socket write, a select). REALTIME["SWITCH_INTERVAL_MS"]
shortens that wait; measured, it cut the tails of offers and claims (docs/performance.md).
"""

from __future__ import annotations

import gc
import sys

from django.conf import settings


def tune_process() -> None:
    threshold = settings.REALTIME["GC_THRESHOLD"]
    if threshold > 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(threshold, 20, 100)
    interval_ms = settings.REALTIME["SWITCH_INTERVAL_MS"]
    if interval_ms > 0:
        sys.setswitchinterval(interval_ms / 1000)
