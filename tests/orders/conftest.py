"""Helpers for the lifecycle tests: a cast of people per order, and `reach` to bring an order
to any state through the real services (never by writing `status` directly).

The cast of an order is who submitted it, which desk runs it, who is offered it and who
claims it. The default cast is the north one of tests/conftest.py (`resident`, `secretary`,
offered `volunteer`); `other_cast` is the south one (`other_resident`, `other_secretary`,
offered `outsider_volunteer`), so a test can run the same matrix in the other scope.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from orders import services
from orders.models import Offer, Order, OrderEvent
from tests.factories import BASE_LAT, VolunteerFactory

# What a resident typed that nobody but the entitled may ever see (docs/design.md, "Events and privacy").
SECRET_ADDRESS = "88 Hidden Garden Road, Flat 7"
SECRET_PHONE = "13912345678"
SECRET_LAT = 31.2304567
SECRET_LNG = 121.4707654
SECRETS = (SECRET_ADDRESS, SECRET_PHONE, "31.2304567", "121.4707654", "Hidden Garden")


def leaks(payload: Any) -> list[str]:
    """The secrets of the resident found anywhere in a response or event payload."""
    text = payload if isinstance(payload, str | bytes) else json.dumps(payload, default=str, ensure_ascii=False)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [s for s in SECRETS if s in text]


@dataclass
class Cast:
    resident: Any
    secretary: Any
    offered: Sequence[Any]
    claimant: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.claimant is None:
            self.claimant = self.offered[0]


@pytest.fixture
def spare_volunteer(world):
    """A third on-duty member of the north branch: the cascade's next candidate."""
    return VolunteerFactory(
        user__username="spare_volunteer", branches=[world.north_branch], base_lat=BASE_LAT - 0.003
    ).user


@pytest.fixture
def cast(resident, secretary, volunteer) -> Cast:
    return Cast(resident=resident, secretary=secretary, offered=[volunteer])


@pytest.fixture
def other_cast(other_resident, other_secretary, outsider_volunteer) -> Cast:
    return Cast(resident=other_resident, secretary=other_secretary, offered=[outsider_volunteer])


@pytest.fixture
def new_order(resident) -> Callable[..., Order]:
    """A submitted order with personal data worth protecting."""

    def make(user=None, **fields: Any) -> Order:
        data = {
            "category": "errands",
            "description": "Please fetch my medicine from the pharmacy.",
            "address": SECRET_ADDRESS,
            "contact_phone": SECRET_PHONE,
            **fields,
        }
        owner = user or resident
        if "lat" not in fields and owner.pk == resident.pk:
            data.update(lat=SECRET_LAT, lng=SECRET_LNG)
        order, _ = services.order_submit(resident=owner, data=services.OrderInput(**data))
        return order

    return make


PATH = ["submitted", "accepted", "dispatched", "claimed", "in_progress", "completed", "closed"]


@pytest.fixture
def reach(cast) -> Callable[..., Order]:
    """Bring a submitted order to `status` through the services, as `who` (a Cast) would."""

    def to(order: Order, status: str, who: Cast | None = None) -> Order:
        who = who or cast
        steps: dict[str, Callable[[], Any]] = {
            "accepted": lambda: services.order_accept(order_id=order.pk, user=who.secretary),
            "dispatched": lambda: services.order_dispatch(
                order_id=order.pk,
                user=who.secretary,
                mode="pool",
                volunteers=[u.volunteer.pk for u in who.offered],
            ),
            "claimed": lambda: services.order_claim(order_id=order.pk, user=who.claimant),
            "in_progress": lambda: services.order_start(order_id=order.pk, user=who.claimant),
            "completed": lambda: services.order_complete(order_id=order.pk, user=who.claimant, note="Done", hours=1),
            "closed": lambda: services.order_confirm(order_id=order.pk, user=who.resident, rating=5, comment="Thanks"),
        }
        if status == "rejected":
            services.order_reject(order_id=order.pk, user=who.secretary, reason="Not something we do")
        elif status == "cancelled":
            services.order_cancel(order_id=order.pk, user=who.resident, reason="No longer needed")
        elif status == "merged":
            survivor, _created = services.order_submit(
                resident=who.resident,
                data=services.OrderInput(
                    category=order.category.code, description=order.description, lat=order.lat, lng=order.lng
                ),
            )
            services.order_merge(order_id=order.pk, user=who.secretary, into=survivor.pk)
        else:
            order.refresh_from_db()
            for step in PATH[PATH.index(order.status) + 1 : PATH.index(status) + 1]:
                steps[step]()
        order.refresh_from_db()
        assert order.status == status
        return order

    return to


def snapshot(order_id: int) -> dict[str, Any]:
    """Everything a refused action must leave exactly as it was."""
    order = Order.objects.get(pk=order_id)
    return {
        "order": {f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields},
        "events": list(
            OrderEvent.objects.filter(order_id=order_id).values_list("id", "action", "from_status", "to_status")
        ),
        "offers": list(
            Offer.objects.filter(order_id=order_id).order_by("id").values_list("id", "volunteer_id", "status")
        ),
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The factories hash a password per person; PBKDF2's real cost would dominate the suite.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
