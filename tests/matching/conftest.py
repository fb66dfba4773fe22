"""Helpers for the matcher's database tests; the people and places come from tests/conftest.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import services
from orders.models import Order
from orders.records import volunteer_records_recount
from tests.factories import BASE_LAT, BASE_LNG, VolunteerFactory


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """These tests create many people and never log in with a password: hash cheaply."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def accepted(submit, secretary):
    """A fresh order of `resident` (north grid), accepted by the north desk."""

    def make(**fields) -> Order:
        order = submit(**fields)
        return services.order_accept(order_id=order.pk, user=secretary)

    return make


@pytest.fixture
def member(world):
    """A volunteer of the north branch at an offset (in degrees of latitude) from the order."""

    def make(name: str, north: float = 0.0, *, branch=None, **fields):
        return VolunteerFactory(
            user__username=name,
            branches=[branch or world.north_branch],
            base_lat=BASE_LAT + north,
            base_lng=BASE_LNG,
            **fields,
        ).user.volunteer

    return make


def go_live(volunteer, north: float, *, minutes_ago: float = 0) -> None:
    """The phone streamed a position `north` degrees from the order, some minutes ago."""
    type(volunteer).objects.filter(pk=volunteer.pk).update(
        live_lat=BASE_LAT + north, live_lng=BASE_LNG, live_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def imported_history() -> None:
    """Orders, offers and ratings made with factories bypass the lifecycle that keeps each
    volunteer's record: recount them, as an operator does after importing history."""
    volunteer_records_recount()
