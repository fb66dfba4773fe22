"""A Redis cache that falls back to this process's memory while Redis is away.

The cache holds nothing that is the only copy of anything: rate-limit counters (allauth's
login limits, Open311 clients' rates, realtime tickets) and short-lived copies. During a
Redis outage every operation goes to a per-process memory cache instead of failing, so the
REST API keeps taking orders, logins keep working, and the limits still hold, per process:
a brute force gets each process's allowance for the outage, not an unlimited run (allauth's
lock takes `cache.add`, which a cache that answered "no" to everything refused forever).
When Redis answers again, it is used again; what was counted in memory is forgotten.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
# Every operation that reaches Redis; each falls back to the same operation in memory.
_OPERATIONS = (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "decr",
    "set_many",
    "delete_many",
    "clear",
)


def _falling_back(name: str, method: Any) -> Any:
    @functools.wraps(method)
    def call(self: ResilientRedisCache, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _UNAVAILABLE:
            logger.warning("Redis cache unavailable: %s served from this process's memory", name)
            return getattr(self.local, name)(*args, **kwargs)

    return call


# One Redis client (and so one connection pool) per configured server, per process. Django
# makes a cache object per context, and under daphne every request runs in a context of its
# own: each request built a client, a pool and a new TCP connection to Redis, which the
# sessions (read from the cache) paid for on every request (docs/performance.md). redis-py's
# pools are thread-safe.
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


class _OneRedisPerPoolClient(RedisCacheClient):
    """Django's client, keeping one `redis.Redis` per connection pool instead of one per operation.

    Django's `get_client()` builds a new `redis.Redis(connection_pool=pool)` for every cache
    operation, several per HTTP request (the sessions are read from the cache): measured at
    0.11-0.18 ms each, about what the GET itself costs (a `cache.get()` against a local Redis:
    0.24-0.39 ms before, 0.14-0.18 ms after). A `redis.Redis` over a pool is thread-safe (each
    command takes a connection from the pool and gives it back), so one per pool serves every
    thread of the process.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis_by_pool: dict[Any, Any] = {}
        self._redis_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._redis_by_pool.get(pool)
        if client is None:
            with self._redis_lock:
                client = self._redis_by_pool.get(pool)
                if client is None:
                    client = self._redis_by_pool[pool] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _OneRedisPerPoolClient
        # Named after the Redis location: one memory cache per configured cache, per process.
        self.local = LocMemCache(f"sandan-fallback-{server}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self.local.key_prefix, self.local.version = self.key_prefix, self.version

    @cached_property
    def _cache(self) -> Any:
        key = repr((self._servers, sorted(self._options.items())))  # type: ignore[attr-defined]
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)  # type: ignore[attr-defined]
        return client


for _name in _OPERATIONS:
    setattr(ResilientRedisCache, _name, _falling_back(_name, getattr(RedisCache, _name)))
