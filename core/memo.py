"""Reads memoised for the length of one request.

Who a caller is at a desk (`volunteers.selectors.desk_branch_ids`, the areas they oversee) is
read by the scope of a list, by its privacy check, by the page's header and by each panel of
the desk: the same statements up to four times in one request. Inside a request scope (the
middleware in `project/requestmemo.py` opens one per request) they are read once; outside one
(the worker, the shell, tests calling services) every call reads afresh.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_memo: ContextVar[dict[Hashable, object] | None] = ContextVar("sandan_request_memo", default=None)


@contextmanager
def memo_scope() -> Iterator[None]:
    """Memoise `memoised` reads until the block ends (one request)."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def memoised(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per scope for `key`; every call when no scope is open."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[return-value]
