"""PostgreSQL keeps `RatedOrder` exact by trigger: the satisfaction rate read from it equals
the one computed by joining the ratings, whatever happens to ratings and orders."""

from __future__ import annotations

from datetime import date

import pytest

from orders.models import Order, Rating
from stats.figures import Cohort, _ratings, cohort_ratings
from stats.models import RatedOrder
from tests.stats.builders import build

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def joined(cohort: Cohort) -> tuple[int, int]:
    ratings = list(cohort_ratings(cohort).values_list("rating", flat=True))
    return len(ratings), sum(1 for r in ratings if r >= 4)


def via_read_model(cohort: Cohort) -> tuple[int, int]:
    row = _ratings(cohort)
    return row["total"], row["satisfied"]


def test_ratings_follow_inserts_transfers_and_deletes(world, resident, volunteer):
    v = volunteer.volunteer
    north = Cohort(*MARCH, branch_ids=(world.north_branch.pk,))
    south = Cohort(*MARCH, branch_ids=(world.south_branch.pk,))
    a = build(
        branch=world.north_branch,
        resident=resident,
        status="closed",
        created="2026-03-02 09:00",
        volunteer=v,
        ratings=(5, 2),
    )
    b = build(
        branch=world.north_branch,
        resident=resident,
        status="closed",
        created="2026-03-03 09:00",
        volunteer=v,
        ratings=(4,),
    )
    # a: 5 and 2, b: 4 → 3 ratings, 2 satisfied.
    assert RatedOrder.objects.get(order=a).ratings == 2
    assert via_read_model(north) == joined(north) == (3, 2)

    # The order moves to the south branch (a transfer after a reopen): its ratings go with it.
    Order.objects.filter(pk=b.pk).update(branch=world.south_branch)
    assert via_read_model(north) == joined(north) == (2, 1)
    assert via_read_model(south) == joined(south) == (1, 1)

    # A rating corrected and one removed.
    Rating.objects.filter(order=a, rating=2).update(rating=4)
    assert via_read_model(north) == joined(north) == (2, 2)
    Rating.objects.filter(order=a).delete()
    assert not RatedOrder.objects.filter(order=a).exists()
    assert via_read_model(north) == joined(north) == (0, 0)
