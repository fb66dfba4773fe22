"""Resume when ids and pushes are out of order (found by the cluster scenario, bench/cluster.py):
a phone that saw a higher id and then lost its socket still gets the lower one pushed after it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Event
from notifications.realtime import _MARK_SKEW, events_after


def _event(user, *, pushed_at):
    return Event.objects.create(recipient=user, kind="order.updated", payload={}, pushed_at=pushed_at)


@pytest.mark.django_db
def test_a_lower_id_pushed_after_the_last_one_seen_is_replayed(volunteer):
    now = timezone.now()
    older = _event(volunteer, pushed_at=now - timedelta(seconds=30))  # seen long ago
    late = _event(volunteer, pushed_at=None)  # its transaction committed late, or its push died
    last = _event(volunteer, pushed_at=now - timedelta(seconds=5))  # the phone saw this one, then lost its host
    newer = _event(volunteer, pushed_at=None)
    Event.objects.filter(pk=late.pk).update(pushed_at=now - timedelta(seconds=1))  # the relay sent it later

    result = events_after(user_id=volunteer.pk, after=last.pk)

    assert [f["id"] for f in result.frames] == [late.pk, newer.pk]
    assert older.pk not in [f["id"] for f in result.frames]


@pytest.mark.django_db
def test_rows_pushed_in_order_are_not_replayed_again(volunteer):
    now = timezone.now()
    first = _event(volunteer, pushed_at=now - timedelta(seconds=30))
    second = _event(volunteer, pushed_at=now - timedelta(seconds=20))
    third = _event(volunteer, pushed_at=now - timedelta(seconds=10))

    assert [f["id"] for f in events_after(user_id=volunteer.pk, after=second.pk).frames] == [third.pk]
    assert first.pk < second.pk


@pytest.mark.django_db
def test_a_lower_id_marked_pushed_just_before_the_last_one_seen_is_replayed(volunteer):
    """Two processes push; the one that pushed first writes its mark a moment later. The
    phone got the other row and lost its host before the first one was sent to it."""
    seen_at = timezone.now() - timedelta(seconds=60)
    before_the_margin = _event(volunteer, pushed_at=seen_at - _MARK_SKEW - timedelta(seconds=1))
    raced = _event(volunteer, pushed_at=seen_at - timedelta(seconds=0.1))
    last = _event(volunteer, pushed_at=seen_at)

    frames = events_after(user_id=volunteer.pk, after=last.pk).frames

    assert [f["id"] for f in frames] == [raced.pk]
    assert before_the_margin.pk < raced.pk


@pytest.mark.django_db
def test_a_lower_id_not_yet_marked_pushed_is_replayed(volunteer):
    """Pushed to a host that died before sending it, and the pushing process has not written
    its mark when the phone resumes elsewhere: the row is not left out for that."""
    now = timezone.now()
    unmarked = _event(volunteer, pushed_at=None)
    last = _event(volunteer, pushed_at=now - timedelta(seconds=60))

    assert [f["id"] for f in events_after(user_id=volunteer.pk, after=last.pk).frames] == [unmarked.pk]


@pytest.mark.django_db
def test_a_cursor_that_is_not_the_recipients_own_row_replays_only_what_follows(volunteer, volunteer2):
    now = timezone.now()
    mine = _event(volunteer, pushed_at=now)
    theirs = _event(volunteer2, pushed_at=now - timedelta(seconds=10))
    after = _event(volunteer, pushed_at=now)

    assert [f["id"] for f in events_after(user_id=volunteer.pk, after=theirs.pk).frames] == [after.pk]
    assert mine.pk < theirs.pk
