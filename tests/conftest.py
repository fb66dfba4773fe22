"""Named people and places, so that a permission test reads like a sentence.

The world: one street → one community → two grids (north, south), each with a branch.
`secretary` runs the north branch, where `resident` lives; `staff` sits on the community;
`volunteer` and `volunteer2` are on-duty members of the north branch; `outsider_volunteer`
belongs to the south branch; `other_resident` and `other_secretary` live and work south.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from orders import services
from orders.models import Order
from tests.factories import (
    BASE_LAT,
    BASE_LNG,
    AreaFactory,
    BranchFactory,
    ResidentProfileFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers.models import Area


def pytest_collection_modifyitems(config, items):
    """Service-bound tests run wherever the service is configured. In CI (CI=true) a test
    that needs PostgreSQL or Redis and does not have it fails instead of skipping."""
    in_ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    have = {"postgres": settings.IS_POSTGRES, "redis": bool(settings.REDIS_URL), "cluster": _can_make_a_cluster()}
    for item in items:
        _restore_seed_data_after_flush(item)
        for marker, available in have.items():
            if item.get_closest_marker(marker) and not available:
                reason = f"needs {marker} ({_HOW[marker]})"
                if in_ci:
                    item.add_marker(pytest.mark.usefixtures("_fail_missing_service"))
                else:
                    item.add_marker(pytest.mark.skip(reason=reason))


_HOW = {
    "postgres": "set DATABASE_URL",
    "redis": "set REDIS_URL",
    "cluster": "root, PostgreSQL and Redis, haproxy, pgbouncer and redis-server: `make cluster-tools`",
}


def _can_make_a_cluster() -> bool:
    """tests/cluster's scenario makes network namespaces (root) and runs Debian's HAProxy and
    PgBouncer; `make test` installs them (`cluster-tools`)."""
    import shutil

    tools = all(shutil.which(t) for t in ("ip", "haproxy", "pgbouncer", "redis-server"))
    return tools and os.geteuid() == 0 and settings.IS_POSTGRES and bool(settings.REDIS_URL)


def _restore_seed_data_after_flush(item) -> None:
    """Give every transactional test `serialized_rollback=True`.

    A transactional test ends with a flush of every table, which also wipes the rows our
    data migrations seeded (categories, skills, Open311 attributes). Serialized rollback
    restores them, but Django only keeps that consistent when *all* transactional tests use
    it: a flush after a test without it re-creates content types through post_migrate, and
    the next serialized test then fails inserting them again (duplicate key)."""
    marker = item.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction") or marker.kwargs.get("serialized_rollback"):
        return
    item.add_marker(pytest.mark.django_db(*marker.args, **{**marker.kwargs, "serialized_rollback": True}), append=False)


@pytest.fixture
def _fail_missing_service():
    pytest.fail("CI must provide PostgreSQL and Redis (and, for tests/cluster, root, HAProxy and PgBouncer)")


# The race tests run up to 32 threads at once, each holding a connection of its own, as 32
# daphne threads would; production sizes each process's pool with DB_POOL_MAX_SIZE.
_CROWD_CONNECTIONS = 64


@pytest.fixture(autouse=True)
def _pool_fits_the_crowd():
    from django.db import connection

    pool = getattr(connection, "pool", None)  # PostgreSQL with the pool only
    if pool is not None and pool.max_size < _CROWD_CONNECTIONS:
        pool.resize(pool.min_size, _CROWD_CONNECTIONS)


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _generous_order_rate(settings):
    """Tests drive one resident through many orders by the services; the posting limit
    (ORDER_SUBMIT_RATE) has tests of its own, which set the rate they test."""
    settings.SANDAN = {**settings.SANDAN, "ORDER_SUBMIT_RATE": "100000/hour"}


@pytest.fixture(autouse=True)
def _no_throttle_state():
    from django.core.cache import cache

    from matching.services import forget_cached

    cache.clear()
    forget_cached()  # the matcher's per-process scopes: ids are reused once a test rolls back


@pytest.fixture(autouse=True)
def _seeded_rows_after_a_flush(request):
    """A transactional test flushes every table when it ends, the migration's seeded skills
    and categories included; pytest-django runs those tests last, in any folder order, so
    put the rows back for each of them (get_or_create: a no-op when they are there)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    import importlib

    from django.apps import apps

    request.getfixturevalue("transactional_db")
    importlib.import_module("orders.migrations.0003_seed_categories").seed(apps, None)


@dataclass
class World:
    street: Area
    community: Area
    north: Area
    south: Area
    north_branch: object
    south_branch: object


@pytest.fixture
def world(db) -> World:
    street = AreaFactory(name="Street", level=Area.Level.STREET)
    community = AreaFactory(name="Community", level=Area.Level.COMMUNITY, parent=street)
    north = AreaFactory(name="North grid", parent=community, center_lat=BASE_LAT, center_lng=BASE_LNG)
    south = AreaFactory(name="South grid", parent=community, center_lat=BASE_LAT - 0.02, center_lng=BASE_LNG)
    north_branch = BranchFactory(name="North branch", area=north)
    south_branch = BranchFactory(name="South branch", area=south)
    return World(street, community, north, south, north_branch, south_branch)


@pytest.fixture
def resident(world):
    return ResidentProfileFactory(user__username="resident", grid=world.north).user


@pytest.fixture
def other_resident(world):
    return ResidentProfileFactory(
        user__username="other_resident", grid=world.south, lat=BASE_LAT - 0.02, lng=BASE_LNG
    ).user


@pytest.fixture
def secretary(world):
    user = UserFactory(username="secretary")
    world.north_branch.secretaries.add(user)
    return user


@pytest.fixture
def other_secretary(world):
    user = UserFactory(username="other_secretary")
    world.south_branch.secretaries.add(user)
    return user


@pytest.fixture
def staff(world):
    user = UserFactory(username="staff")
    world.community.staff.add(user)
    return user


@pytest.fixture
def volunteer(world):
    return VolunteerFactory(user__username="volunteer", branches=[world.north_branch]).user


@pytest.fixture
def volunteer2(world):
    return VolunteerFactory(user__username="volunteer2", branches=[world.north_branch], base_lat=BASE_LAT + 0.004).user


@pytest.fixture
def outsider_volunteer(world):
    return VolunteerFactory(
        user__username="outsider_volunteer", branches=[world.south_branch], base_lat=BASE_LAT - 0.02
    ).user


@pytest.fixture
def outsider(db):
    """Signed in, but no relation to anything."""
    return UserFactory(username="outsider")


@pytest.fixture
def api() -> Callable[..., APIClient]:
    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def submit(resident):
    """Submit an order as `resident` (or someone else) through the service."""

    def make(user=None, **fields) -> Order:
        data = {"category": "errands", "description": "Please fetch my medicine.", **fields}
        order, _ = services.order_submit(resident=user or resident, data=services.OrderInput(**data))
        return order

    return make


@pytest.fixture
def advance(secretary, volunteer, resident):
    """Bring a fresh order to a given state through the real services."""

    def to(order: Order, status: str) -> Order:
        steps = {
            "accepted": [lambda: services.order_accept(order_id=order.pk, user=secretary)],
            "dispatched": [
                lambda: services.order_dispatch(
                    order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk
                )
            ],
            "claimed": [lambda: services.order_claim(order_id=order.pk, user=volunteer)],
            "in_progress": [lambda: services.order_start(order_id=order.pk, user=volunteer)],
            "completed": [lambda: services.order_complete(order_id=order.pk, user=volunteer, note="Done", hours=1)],
            "closed": [lambda: services.order_confirm(order_id=order.pk, user=resident, rating=5, comment="Thanks")],
        }
        path = ["accepted", "dispatched", "claimed", "in_progress", "completed", "closed"]
        terminal = {
            "rejected": lambda: services.order_reject(order_id=order.pk, user=secretary, reason="Not ours"),
            "cancelled": lambda: services.order_cancel(order_id=order.pk, user=resident, reason="No longer needed"),
        }
        if status in terminal:
            terminal[status]()
        elif status != "submitted":
            for step in path[: path.index(status) + 1]:
                for call in steps[step]:
                    call()
        order.refresh_from_db()
        return order

    return to
