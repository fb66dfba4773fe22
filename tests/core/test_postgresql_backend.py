"""The PostgreSQL backend (core/postgresql): psycopg's compiled loaders for timestamps and JSON
give what Django's own loaders give, through every kind of cursor Django opens."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection, transaction
from django.db.backends.postgresql.psycopg_any import get_adapters_template
from psycopg.pq import Format

from notifications.models import Event
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

TIMESTAMPTZ = 1184
JSONB = 3802
# Microseconds, both sides of midnight and of a leap day, far past and future, a whole second.
MOMENTS = [
    "2026-12-07 06:55:05.774460+00",
    "2024-02-29 23:59:59.999999+00",
    "2025-01-01 00:00:00+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2026-06-30 16:00:00.5+08",
]


def _read(sql: str, loaders: str, params: list | None = None) -> list[tuple]:
    """Rows of `sql` on a cursor of the connection, read with Django's loaders or this backend's."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        if loaders == "django":
            template = get_adapters_template(True, datetime.UTC)
            for oid in (TIMESTAMPTZ, JSONB):
                cursor.cursor.adapters.register_loader(oid, template.get_loader(oid, Format.TEXT))
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_compiled_loaders_are_the_ones_in_use():
    # The reason for the backend: Django's Python loaders cost ~4 µs a timestamp.
    connection.ensure_connection()
    for oid in (TIMESTAMPTZ, JSONB):
        loader = connection.connection.adapters.get_loader(oid, Format.TEXT)
        assert loader is not None and loader.__module__ == "psycopg_binary._psycopg"


def test_timestamps_are_the_same_values_django_gives_aware_in_utc():
    sql = "SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n"
    ours, djangos = _read(sql, "ours", [MOMENTS]), _read(sql, "django", [MOMENTS])
    assert ours == djangos
    assert [row[0].tzinfo for row in ours] == [datetime.UTC] * len(MOMENTS)
    assert ours[5][0] == datetime.datetime(2026, 6, 30, 8, 0, 0, 500000, tzinfo=datetime.UTC)
    assert ours[1][0].microsecond == 999999


def test_json_is_the_same_text_django_parses():
    sql = """SELECT '{"a": [1, 2.5, null], "名": "張三", "t": true}'::jsonb, NULL::jsonb"""
    assert _read(sql, "ours") == _read(sql, "django")
    assert _read(sql, "ours")[0][0] == '{"a": [1, 2.5, null], "t": true, "名": "張三"}'


def test_models_round_trip_and_a_server_side_cursor_reads_the_same():
    user = UserFactory()
    payload = {"order": {"address": "1 號", "at": "2026-12-07T06:55:05Z"}, "n": [1, 2]}
    event = Event.objects.create(recipient=user, kind="order.updated", payload=payload)
    fresh = Event.objects.get(pk=event.pk)
    assert fresh.payload == payload
    assert fresh.created_at == event.created_at
    assert fresh.created_at.tzinfo == datetime.UTC
    with transaction.atomic():  # .iterator() opens a named (server-side) cursor inside a transaction
        streamed = list(Event.objects.filter(pk=event.pk).iterator(chunk_size=10))
    assert [(e.payload, e.created_at) for e in streamed] == [(payload, event.created_at)]
