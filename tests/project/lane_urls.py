"""A view that notes which thread ran it and how many ran at once (tests/project/test_lanes.py)."""

from __future__ import annotations

import threading
import time

from django.http import JsonResponse
from django.urls import path

seen: dict[str, object] = {"threads": set(), "running": 0, "most": 0}
_lock = threading.Lock()


def note_thread(request):
    with _lock:
        seen["threads"].add(threading.get_ident())  # type: ignore[attr-defined]
        seen["running"] = int(seen["running"]) + 1  # type: ignore[call-overload]
        seen["most"] = max(int(seen["most"]), int(seen["running"]))  # type: ignore[call-overload]
    time.sleep(0.02)  # long enough for the other requests to pile up behind it
    with _lock:
        seen["running"] = int(seen["running"]) - 1  # type: ignore[call-overload]
    return JsonResponse({"thread": threading.get_ident()})


urlpatterns = [path("thread", note_thread)]
