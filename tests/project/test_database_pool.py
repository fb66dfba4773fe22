"""PostgreSQL connections under daphne come from the per-process pool.

Django's ASGI handler runs every request on a thread of its own and keeps a connection per
thread, so without the pool every request opened (and dropped) a PostgreSQL connection,
whatever DB_CONN_MAX_AGE said: a new backend process per request, a few milliseconds each.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.testing import HttpCommunicator
from django.core.cache import cache
from django.db import connection

from orders import catalogue
from project.asgi import application

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_requests_through_asgi_reuse_pooled_connections():
    pool = connection.pool
    before = pool.get_stats()

    async def get_categories() -> int:
        request = HttpCommunicator(application, "GET", "/api/v1/categories", headers=[(b"host", b"localhost")])
        response = await request.get_response()
        await request.wait()  # the handler's end of request, where Django gives the connection back
        return response["status"]

    # asyncio.run, as daphne's loop: no outer sync thread, so each request gets its own thread.
    statuses = []
    for _ in range(10):
        cache.delete(catalogue.KEY)  # read from the database each time, not from the cache
        statuses.append(asyncio.run(get_categories()))

    after = pool.get_stats()
    assert statuses == [200] * 10
    # Each request took a connection from the pool and gave it back...
    assert after.get("requests_num", 0) - before.get("requests_num", 0) >= 10
    # ...and one or two connections served all ten.
    assert after.get("connections_num", 0) - before.get("connections_num", 0) <= 2


def test_a_statement_run_again_and_again_is_prepared_once_on_the_server():
    # A dispatch spent a third of its SQL time planning the same statements again and again.
    from orders.models import Category

    for _ in range(6):
        list(Category.objects.filter(active=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "orders_category"' in statement for statement in prepared)
