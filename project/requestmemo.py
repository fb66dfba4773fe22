"""Reads memoised for the length of one request.

Who a caller is at a desk (`orders.selectors.desk_branch_ids`, the areas they oversee) is read
by the scope of a list, by its privacy check, by the page's header and by each panel of the
desk: the same two statements up to four times in one request. Inside a request they are read
once; outside one (the worker, the shell, tests calling services) every call reads afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import TypeVar

from django.http import HttpRequest, HttpResponse

T = TypeVar("T")

_memo: ContextVar[dict[Hashable, object] | None] = ContextVar("sandan_request_memo", default=None)


def request_memo_middleware(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        token = _memo.set({})
        try:
            return get_response(request)
        finally:
            _memo.reset(token)

    return middleware


def memoised(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per request for `key`; every call when no request is being served."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[return-value]
