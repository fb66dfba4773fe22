from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.db.models import Count

from demo.city import DEMO_PASSWORD, load_demo
from orders.models import Order, Rating
from orders.records import volunteer_records_recount
from volunteers.models import Area, Branch, Volunteer, VolunteerRecord

RECORD = ("volunteer_id", "held", "finished", "dropped", "rating_count", "rating_sum")

pytestmark = pytest.mark.django_db


def test_demo_city_is_realistic_and_loading_twice_changes_nothing():
    first = load_demo(orders=520)
    assert first.created
    assert Area.objects.filter(level="street").count() == 1
    assert Area.objects.filter(level="community").count() >= 4
    grids = Area.objects.filter(level="grid")
    assert grids.count() >= 16
    assert all(Branch.objects.filter(area=g).exists() for g in grids)
    assert Volunteer.objects.count() >= 300
    assert first.residents >= 50
    assert Order.objects.count() >= 500
    statuses = set(Order.objects.values_list("status", flat=True))
    assert {
        "submitted",
        "accepted",
        "dispatched",
        "claimed",
        "in_progress",
        "completed",
        "closed",
        "rejected",
        "cancelled",
    } <= statuses
    assert Rating.objects.count() > 100
    # Every order has a timeline that starts with its submission, in time order.
    timelines = Order.objects.annotate(n=Count("events"))
    assert not timelines.filter(n=0).exists()
    closed = Order.objects.filter(status="closed").first()
    stamps = [e.at for e in closed.events.order_by("id")]
    assert stamps == sorted(stamps) and closed.created_at <= closed.closed_at
    # 520 orders driven through the real services: every volunteer's record, kept as the
    # lifecycle went, equals a recount from the orders, offers and ratings.
    kept = set(VolunteerRecord.objects.values_list(*RECORD))
    assert len(kept) > 100
    volunteer_records_recount()
    assert set(VolunteerRecord.objects.exclude(held=0, finished=0, dropped=0, rating_count=0).values_list(*RECORD)) == {
        row for row in kept if any(row[1:])
    }

    again = load_demo(orders=520)
    assert not again.created
    assert again.orders == first.orders and again.volunteers == first.volunteers


def test_demo_accounts_log_in_and_relate_as_design_says():
    load_demo(orders=20)
    users = {
        name: authenticate(username=name, password=DEMO_PASSWORD)
        for name in ["demo-resident", "demo-secretary", "demo-volunteer", "demo-volunteer2", "demo-staff"]
    }
    assert all(users.values())
    home_grid = users["demo-resident"].resident.grid
    branch = Branch.objects.get(area=home_grid)
    assert branch.secretaries.filter(pk=users["demo-secretary"].pk).exists()
    for name in ("demo-volunteer", "demo-volunteer2"):
        v = users[name].volunteer
        assert v.on_duty and v.branches.filter(pk=branch.pk).exists()
    assert home_grid.parent.staff.filter(pk=users["demo-staff"].pk).exists()
