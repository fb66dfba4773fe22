"""One memo scope per request (`core.memo`): a desk's seats are read once per request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.memo import memo_scope


def request_memo_middleware(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        with memo_scope():
            return get_response(request)

    return middleware
