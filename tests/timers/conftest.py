"""Timer tests drive the clock: `at(minutes)` is a moment that many minutes from now, and
`tick(at(...))` runs one worker pass of the timers at that moment (no sleeping)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from notifications.delivery.sms import LocmemSmsBackend
from tests.factories import BASE_LAT, VolunteerFactory
from timers.services import TickResult, timers_tick

SLA = {
    "REVIEW_MINUTES": 30,
    "DISPATCH_MINUTES": 60,
    "OFFER_MINUTES": 10,
    "START_MINUTES": 60,
    "COMPLETE_MINUTES": 480,
    "CONFIRM_MINUTES": 7 * 24 * 60,
    "LEASE_SECONDS": 60,
    "MAX_ATTEMPTS": 5,
    "TICK_SECONDS": 0,
    "BROADCAST_LIMIT": 200,
    "DIGEST_HOUR": -1,
}


@pytest.fixture(autouse=True)
def _seeded_categories(db):
    """Transactional tests flush the database after each test, seeded rows included: re-seed."""
    import importlib

    from django.apps import apps

    importlib.import_module("orders.migrations.0003_seed_categories").seed(apps, None)


@pytest.fixture(autouse=True)
def _timer_settings(settings):
    # Factories hash a password per user; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SANDAN_TIMERS = dict(SLA)
    settings.SMS_BACKEND = "notifications.delivery.sms.LocmemSmsBackend"
    settings.VAPID_PUBLIC_KEY = ""
    settings.VAPID_PRIVATE_KEY = ""
    LocmemSmsBackend.outbox = []


@pytest.fixture
def at() -> Callable[[float], datetime]:
    start = timezone.now()

    def moment(minutes: float) -> datetime:
        return start + timedelta(minutes=minutes)

    return moment


@pytest.fixture
def tick() -> Callable[..., TickResult]:
    def run(now: datetime, worker: str = "worker-1") -> TickResult:
        return timers_tick(now=now, worker=worker)

    return run


@pytest.fixture
def volunteer3(world):
    return VolunteerFactory(user__username="volunteer3", branches=[world.north_branch], base_lat=BASE_LAT + 0.006).user
