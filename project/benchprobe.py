"""What the HTTP bench reads from a server process (`bench/http_load.py`); mounted only with
`SANDAN_BENCH_PROBE=1`, never in production.

A middleware counts the requests this process served and the SQL statements they ran (a
statement counter on the request's connection, as `CaptureQueriesContext` does in tests),
and `/_bench/counters` returns the totals with the process id, whose CPU time the bench reads
from `/proc/<pid>/stat`. The bench reads the counters before and after each run and divides.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

_lock = threading.Lock()
_totals = {"requests": 0, "statements": 0}


def counters_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path == "/_bench/counters":
            return get_response(request)
        seen = [0]

        def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            seen[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = get_response(request)
        with _lock:
            _totals["requests"] += 1
            _totals["statements"] += seen[0]
        return response

    return middleware


def counters(request: HttpRequest) -> JsonResponse:
    with _lock:
        return JsonResponse({"pid": os.getpid(), **_totals})
