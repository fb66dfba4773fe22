"""A Redis cache that degrades instead of failing while Redis is away.

The cache holds nothing that is the only copy of anything (throttle counters, allauth rate
limits): during a Redis outage a read is a miss and a write is dropped, so the REST API keeps
taking orders and claims (throttles fail open for those seconds) instead of answering 500.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
# What each operation returns when Redis does not answer.
_FALLBACK: dict[str, Any] = {
    "add": False,
    "get": None,
    "set": None,
    "touch": False,
    "delete": False,
    "get_many": {},
    "has_key": False,
    "set_many": [],
    "delete_many": None,
    "clear": None,
}


def _degrading(name: str, method: Any) -> Any:
    @functools.wraps(method)
    def call(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _UNAVAILABLE:
            logger.warning("Redis cache unavailable: %s degraded", name)
            if name == "get":
                return kwargs.get("default", args[1] if len(args) > 1 else None)
            return _FALLBACK[name]

    return call


class ResilientRedisCache(RedisCache):
    pass


for _name in _FALLBACK:
    setattr(ResilientRedisCache, _name, _degrading(_name, getattr(RedisCache, _name)))
