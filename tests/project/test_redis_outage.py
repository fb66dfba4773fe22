"""While Redis is away (its port answers nothing), signing in and Open311 keep working and
their limits still hold, per process; and a login lockout says 429 with Retry-After."""

from __future__ import annotations

import json
import uuid
from unittest import mock

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client

from orders.models import Order
from tests.factories import BASE_LAT, BASE_LNG
from tests.notifications.live import free_port

pytestmark = pytest.mark.django_db

LOGIN = "/_allauth/app/v1/auth/login"
PASSWORD = "pw-sandan-test"  # tests/factories.py


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def redis_down(settings):
    """The cache as production configures it, pointed at a port where nothing listens."""
    settings.CACHES = {
        "default": {
            "BACKEND": "project.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    from django.core.cache import cache

    with pytest.raises(Exception):  # noqa: B017 - really down: Redis itself refuses
        cache._cache.get_client().ping()


def login(username: str, password: str = PASSWORD):
    body = json.dumps({"username": username, "password": password})
    return Client().post(LOGIN, body, content_type="application/json")


def test_a_login_lockout_answers_429_with_retry_after(resident, settings):
    # A cache of this test's own: a parallel worker's cache.clear() on a shared Redis would
    # forget the failures counted here.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "lockout"}}
    codes = [login("resident", "wrong").status_code for _ in range(5)]
    assert codes == [400] * 5
    locked = login("resident", "wrong")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 300  # allauth's 5 failures per 5 minutes and account
    # Locked out means locked out: the right password waits too.
    assert login("resident").status_code == 429


def test_logins_keep_working_while_redis_is_down(redis_down, resident, volunteer):
    for user in ("resident", "volunteer"):
        response = login(user)
        assert response.status_code == 200, response.content
        assert response.json()["meta"]["session_token"]


def test_a_brute_force_is_still_limited_while_redis_is_down(redis_down, resident):
    assert [login("resident", f"guess{i}").status_code for i in range(5)] == [400] * 5
    locked = login("resident", "guess5")
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0


def test_open311_filing_works_and_its_rate_holds_while_redis_is_down(redis_down, world):
    from open311 import services as open311_services

    _client, key = open311_services.client_register(name="311 app", rate="2/minute")
    http = Client()
    codes = [
        http.post(
            "/open311/v2/requests.json",
            {
                "api_key": key,
                "service_code": "errands",
                "lat": str(BASE_LAT),
                "long": str(BASE_LNG),
                "email": f"r{i}@example.com",
            },
        ).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]
    assert Order.objects.count() == 2


def test_the_rest_api_keeps_taking_orders_while_redis_is_down(redis_down, api, resident):
    body = {"category": "errands", "description": "Bread"}
    assert api(resident).post("/api/v1/orders", body, format="json").status_code == 201
    assert api(resident).post("/api/v1/realtime/ticket").status_code == 201


def test_the_cache_keeps_one_redis_client_per_pool(redis_down):
    # Django's RedisCacheClient built a redis.Redis per operation (~0.1 ms each); ours keeps one.
    from django.core.cache import cache

    client = cache._cache.get_client()
    assert isinstance(client, redis.Redis)
    assert cache._cache.get_client("key", write=True) is client


@pytest.mark.redis
def test_cache_operations_against_redis_build_no_redis_client_each(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "project.cache.ResilientRedisCache",
            "LOCATION": django_settings.REDIS_URL,
            "KEY_PREFIX": f"test-one-client-{uuid.uuid4().hex[:8]}",  # apart from parallel workers
        }
    }
    from django.core.cache import cache

    with mock.patch.object(redis.Redis, "__init__", autospec=True, side_effect=redis.Redis.__init__) as built:
        for i in range(5):
            cache.set("k", i, 30)
            assert cache.get("k") == i
        assert cache.add("n", 1, 30) and cache.incr("n") == 2
        cache.set_many({"a": 1, "b": 2}, 30)
        assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
        assert cache.has_key("a") and cache.touch("a", 30)
        cache.delete_many(["a", "b", "n"])
        assert cache.delete("k")
    assert built.call_count <= 1  # the first operation in this process may build it; no other
