"""The notification centre's list: the caller's own, newest first, each as the serializer
renders it, with the total and the unread count; marking read moves the count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.api import NotificationSerializer
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def _notify(user, title: str, *, order=None, read: bool = False, minutes_ago: int = 0) -> Notification:
    note = Notification.objects.create(user=user, kind="order.updated", title=title, body=f"{title}…", order=order)
    Notification.objects.filter(pk=note.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago), read_at=timezone.now() if read else None
    )
    note.refresh_from_db()
    return note


def test_the_list_is_the_callers_own_newest_first_as_the_serializer_renders_them(api, volunteer, volunteer2, submit):
    order = submit()
    oldest = _notify(volunteer, "Offered", order=order, minutes_ago=30, read=True)
    middle = _notify(volunteer, "Reminder", minutes_ago=20)
    newest = _notify(volunteer, "接單了", order=order, minutes_ago=10)
    _notify(volunteer2, "Not yours", order=order)

    body = api(volunteer).get("/api/v1/notifications").json()

    expected = NotificationSerializer([newest, middle, oldest], many=True).data
    assert body["results"] == [dict(row) for row in expected]  # the same keys, values and formats
    assert [r["title"] for r in body["results"]] == ["接單了", "Reminder", "Offered"]
    assert [r["unread"] for r in body["results"]] == [True, True, False]
    assert body["results"][1]["order"] is None and body["results"][0]["order"] == order.pk
    assert (body["count"], body["unread"]) == (3, 2)


def test_the_counts_are_the_whole_lists_not_the_pages(api, volunteer):
    for n in range(7):
        _notify(volunteer, f"n{n}", minutes_ago=n, read=n % 3 == 0)  # n0, n3, n6 read

    page = api(volunteer).get("/api/v1/notifications", {"limit": 2, "offset": 2}).json()

    assert [r["title"] for r in page["results"]] == ["n2", "n3"]
    assert (page["count"], page["unread"]) == (7, 4)


def test_marking_read_moves_the_unread_count(api, volunteer):
    notes = [_notify(volunteer, f"n{n}", minutes_ago=n) for n in range(3)]
    client = api(volunteer)

    assert client.post("/api/v1/notifications/read", {"ids": [notes[0].pk]}, format="json").status_code == 200
    assert client.get("/api/v1/notifications").json()["unread"] == 2
    client.post("/api/v1/notifications/read", {"all": True}, format="json")
    body = client.get("/api/v1/notifications").json()
    assert body["unread"] == 0 and not any(r["unread"] for r in body["results"])


def test_someone_without_notifications_gets_an_empty_list(api, resident):
    assert api(resident).get("/api/v1/notifications").json() == {
        "count": 0,
        "next": None,
        "previous": None,
        "results": [],
        "unread": 0,
    }
