"""A lifecycle action reads its order once: the announcement shows the order as the action's
UPDATE left it, built from what the service wrote, not from a second read of the row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Event
from orders import services

pytestmark = pytest.mark.django_db


def _order_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and 'FROM "orders_order"' in q["sql"]]


def test_start_reads_the_order_once_and_announces_it_started(new_order, reach, volunteer, resident):
    order = reach(new_order(), "claimed")
    with CaptureQueriesContext(connection) as queries:
        services.order_start(order_id=order.pk, user=volunteer)

    assert len(_order_reads(queries)) == 1, _order_reads(queries)
    order.refresh_from_db()
    pushed = Event.objects.filter(recipient=resident, order=order, kind="order.updated").order_by("-pk").first()
    assert pushed is not None
    shown = pushed.payload["order"]
    assert shown["status"] == "in_progress" == order.status
    assert (pushed.payload["event"]["from"], pushed.payload["event"]["to"]) == ("claimed", "in_progress")
    assert shown["volunteer"] == volunteer.volunteer.pk


def test_complete_announces_the_state_and_note_it_wrote(new_order, reach, volunteer, resident):
    order = reach(new_order(), "in_progress")
    services.order_complete(order_id=order.pk, user=volunteer, note="  Fixed the tap  ", hours=Decimal("1.5"))

    order.refresh_from_db()
    pushed = Event.objects.filter(recipient=resident, order=order, kind="order.updated").order_by("-pk").first()
    assert pushed is not None
    assert pushed.payload["order"]["status"] == "completed" == order.status
    assert (pushed.payload["event"]["from"], pushed.payload["event"]["to"]) == ("in_progress", "completed")
    assert pushed.payload["event"]["note"] == "Fixed the tap" == order.completion_note
    assert order.hours == Decimal("1.5")
