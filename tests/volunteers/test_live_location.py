"""Live locations count for the matcher while fresh; the worker forgets stale positions so
that the matcher's index finds the volunteer at their base again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import BASE_LAT, BASE_LNG
from timers.worker import Worker
from volunteers.models import Volunteer
from volunteers.services import LIVE_FRESH, volunteer_expire_live_locations

pytestmark = pytest.mark.django_db


def _live(user, *, minutes_ago: float) -> None:
    Volunteer.objects.filter(user=user).update(
        live_lat=BASE_LAT + 0.01, live_lng=BASE_LNG, live_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_the_sweep_forgets_stale_positions_and_keeps_fresh_ones(volunteer, volunteer2):
    _live(volunteer, minutes_ago=LIVE_FRESH.total_seconds() / 60 + 1)
    _live(volunteer2, minutes_ago=2)
    assert volunteer_expire_live_locations() == 1
    stale, fresh = Volunteer.objects.get(user=volunteer), Volunteer.objects.get(user=volunteer2)
    assert (stale.live_lat, stale.live_lng) == (None, None)
    assert stale.live_at is not None  # the time of the last ping stays: the rate limit reads it
    assert fresh.live_lat == pytest.approx(BASE_LAT + 0.01)
    # Run again: nothing left to do.
    assert volunteer_expire_live_locations() == 0


def test_a_worker_pass_runs_the_sweep(volunteer, settings):
    _live(volunteer, minutes_ago=60)
    report = Worker(name="test").run_once(force_tick=True)
    assert report["live_expired"] == 1
    assert Volunteer.objects.get(user=volunteer).live_lat is None
