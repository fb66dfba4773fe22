"""The figures on hand-built data: every expected number is worked out in the comments.

North branch, March 2026 (Asia/Shanghai). Minutes are relative to the previous step.

  #  status       created      review  dispatch  claim  start  complete  ratings  reopened
  1  closed       03-02 09:00  10      10        10     30     40        5
  2  closed       03-03 10:00  30      10        60     30     50        3
  3  closed       03-04 08:00  20      10        20     20     30        2, 4     once
  4  completed    03-05 12:00  40      5         5      60     250
  5  in_progress  03-06 09:00  5       5         5      5
  6  accepted     03-07 09:00  50
  7  submitted    03-08 09:00
  8  rejected     03-09 09:00  15
  9  cancelled    03-10 09:00
  outside the period: 02-28 23:30 (closed) and 04-01 00:10 (submitted), north branch;
  in the area but another branch: south, 03-15 (closed, rated 5).
"""

from __future__ import annotations

from datetime import date

import pytest

from orders.models import Order
from orders.sla import Sla, clean_overrides
from stats.figures import Cohort, figures
from stats.models import ReviewItem, ReviewSample
from stats.selectors import rating_totals, series
from tests.factories import VolunteerFactory
from tests.stats.builders import build, local

pytestmark = pytest.mark.django_db

MARCH = (date(2026, 3, 1), date(2026, 3, 31))
NOW = local("2026-04-01 12:00")


KNOWN_MINUTES = {"review": 30, "dispatch": 60, "offer": 30, "start": 120, "complete": 480}


@pytest.fixture(autouse=True)
def _known_slas(settings):
    # The overdue arithmetic below uses these minutes, whatever the deployment's defaults are.
    settings.SANDAN_TIMERS = {
        **settings.SANDAN_TIMERS,
        **{f"{key.upper()}_MINUTES": minutes for key, minutes in KNOWN_MINUTES.items()},
    }


@pytest.fixture
def doer(world):
    return VolunteerFactory(user__username="doer", branches=[world.north_branch])


@pytest.fixture
def helper(world):
    return VolunteerFactory(user__username="helper", branches=[world.north_branch])


@pytest.fixture
def march(world, resident, doer, helper, staff):
    b, r = world.north_branch, resident
    orders = {
        1: build(
            branch=b,
            resident=r,
            status="closed",
            created="2026-03-02 09:00",
            review=10,
            dispatch=10,
            claim=10,
            start=30,
            complete=40,
            volunteer=doer,
            ratings=(5,),
            hours="1.5",
        ),
        2: build(
            branch=b,
            resident=r,
            status="closed",
            created="2026-03-03 10:00",
            review=30,
            dispatch=10,
            claim=60,
            start=30,
            complete=50,
            volunteer=doer,
            ratings=(3,),
            hours="2",
        ),
        3: build(
            branch=b,
            resident=r,
            status="closed",
            created="2026-03-04 08:00",
            review=20,
            dispatch=10,
            claim=20,
            start=20,
            complete=30,
            volunteer=helper,
            ratings=(2, 4),
            reopened=1,
            hours="1",
        ),
        4: build(
            branch=b,
            resident=r,
            status="completed",
            created="2026-03-05 12:00",
            review=40,
            dispatch=5,
            claim=5,
            start=60,
            complete=250,
            volunteer=helper,
        ),
        5: build(
            branch=b,
            resident=r,
            status="in_progress",
            created="2026-03-06 09:00",
            review=5,
            dispatch=5,
            claim=5,
            start=5,
            volunteer=helper,
        ),
        6: build(branch=b, resident=r, status="accepted", created="2026-03-07 09:00", review=50),
        7: build(branch=b, resident=r, status="submitted", created="2026-03-08 09:00"),
        8: build(branch=b, resident=r, status="rejected", created="2026-03-09 09:00", review=15),
        9: build(branch=b, resident=r, status="cancelled", created="2026-03-10 09:00"),
    }
    build(
        branch=b,
        resident=r,
        status="closed",
        created="2026-02-28 23:30",
        review=1,
        dispatch=1,
        claim=1,
        start=1,
        complete=1,
        volunteer=doer,
        ratings=(1,),
    )
    build(branch=b, resident=r, status="submitted", created="2026-04-01 00:10")
    build(
        branch=world.south_branch,
        resident=r,
        status="closed",
        created="2026-03-15 10:00",
        review=10,
        dispatch=10,
        claim=10,
        start=10,
        complete=10,
        volunteer=doer,
        ratings=(5,),
    )
    return orders


def north(world) -> Cohort:
    return Cohort(*MARCH, branch_ids=(world.north_branch.pk,))


def test_branch_figures_worked_out_by_hand(world, march):
    f = figures(north(world), now=NOW)
    # received: orders 1–9 (the 02-28 and 04-01 ones fall outside March in Shanghai time).
    assert f["received"] == 9
    # accepted at some point and still in the service: 1, 2, 3, 4, 5, 6 (not 7 submitted,
    # 8 rejected, 9 cancelled) = 6; closed: 1, 2, 3 = 3; completion = 3 / 6.
    assert (f["accepted"], f["closed"], f["completion_rate"]) == (6, 3, 0.5)
    # ratings: 5, 3, 2, 4 → two of four are 4 or more.
    assert (f["ratings"], f["satisfied"], f["satisfaction_rate"]) == (4, 2, 0.5)
    # to review: 10, 30, 20, 40, 5, 50, 15 → sorted 5 10 15 [20] 30 40 50.
    assert f["median_minutes_to_review"] == 20.0
    # to claim (dispatch → claim): 10, 60, 20, 5, 5 → sorted 5 5 [10] 20 60.
    assert f["median_minutes_to_claim"] == 10.0
    # to complete (created → completed): 1: 10+10+10+30+40 = 100; 2: 30+10+60+30+50 = 180;
    # 3: 20+10+20+20+30 = 100; 4: 40+5+5+60+250 = 360 → sorted 100 [100 180] 360 → 140.
    assert f["median_minutes_to_complete"] == 140.0
    # reopened: order 3; ever completed: 1, 2, 3, 4 → 1 / 4.
    assert (f["reopened"], f["reopen_rate"]) == (1, 0.25)
    # overdue at 04-01 12:00 with the defaults: 5 (in progress for weeks > 480 min),
    # 6 (accepted for weeks > 60 min), 7 (submitted for weeks > 30 min) = 3.
    assert f["overdue"] == 3


def test_a_branch_sla_override_changes_what_is_overdue(world, march):
    # 100,000 minutes (69 days) to complete: order 5, in progress since 03-06, is in time.
    world.north_branch.sla = {"complete": 100_000}
    world.north_branch.save()
    assert figures(north(world), now=NOW)["overdue"] == 2
    # A week later nothing has changed for 6 and 7; 5 is still within its 69 days.
    assert figures(north(world), now=local("2026-04-08 12:00"))["overdue"] == 2


def test_nothing_is_overdue_before_its_sla(world, march):
    # At 03-08 09:20 order 7 has waited 20 min < 30 for review; 6 was accepted on 03-07
    # 09:50, a day before (> 60 min): overdue; 5 started 03-06 09:20, > 480 min: overdue.
    f = figures(
        Cohort(date(2026, 3, 1), date(2026, 3, 8), branch_ids=(march[1].branch_id,)), now=local("2026-03-08 09:20")
    )
    assert f["overdue"] == 2


def test_area_figures_add_up_the_branches_below(world, march, staff):
    f = figures(Cohort(*MARCH, branch_ids=(world.north_branch.pk, world.south_branch.pk)), now=NOW)
    # North's 9 plus South's one closed and rated 5: received 10, accepted 7, closed 4.
    assert (f["received"], f["accepted"], f["closed"]) == (10, 7, 4)
    assert f["completion_rate"] == round(4 / 7, 4)
    # ratings 5, 3, 2, 4, 5 → 3 of 5.
    assert f["satisfaction_rate"] == 0.6


def test_volunteer_figures_are_their_own_orders(world, march, doer):
    f = figures(Cohort(*MARCH, volunteer_id=doer.pk), now=NOW)
    # doer holds 1 and 2 in North and the South order (all closed): 3 received, 3 of 3.
    assert (f["received"], f["closed"], f["completion_rate"]) == (3, 3, 1.0)
    # their ratings: 5, 3, 5 → 2 of 3.
    assert f["satisfaction_rate"] == round(2 / 3, 4)


def test_category_narrows_the_cohort(world, march):
    Order.objects.filter(pk__in=[march[1].pk, march[7].pk]).update(category_id=_category_id("repair"))
    f = figures(Cohort(*MARCH, branch_ids=(world.north_branch.pk,), category_id=_category_id("repair")), now=NOW)
    # Only 1 (closed) and 7 (submitted, overdue): received 2, accepted 1, closed 1.
    assert (f["received"], f["accepted"], f["closed"], f["overdue"]) == (2, 1, 1, 1)


def test_an_empty_period_has_no_rates(world, march):
    f = figures(Cohort(date(2025, 1, 1), date(2025, 1, 31), branch_ids=(world.north_branch.pk,)), now=NOW)
    assert f["received"] == 0
    assert f["completion_rate"] is None
    assert f["satisfaction_rate"] is None
    assert f["median_minutes_to_review"] is None


def test_review_results_count_in_the_branch_figures(world, march, staff):
    sample = ReviewSample.objects.create(
        branch=world.north_branch,
        start=date(2026, 3, 1),
        end=date(2026, 3, 31),
        percent=100,
        population=3,
        drawn_by=staff,
    )
    for order, result in ((march[1], "confirmed"), (march[2], "not_as_reported"), (march[3], "unreachable")):
        ReviewItem.objects.create(sample=sample, order=order, result=result)
    ReviewItem.objects.create(sample=sample, order=march[4])  # not called yet: not counted
    f = figures(north(world), now=NOW)
    assert f["reviews"] == {"confirmed": 1, "not_as_reported": 1, "unreachable": 1}
    # confirmed ÷ reached (confirmed + not as reported) = 1 / 2; unreachable is not a verdict.
    assert f["review_confirmed_rate"] == 0.5


def _category_id(code: str) -> int:
    from orders.models import Category

    return Category.objects.get(code=code).pk


def test_the_desks_old_claim_key_reads_as_the_offer_limit():
    # The desk used to call the dispatched → claimed limit "claim"; the canonical "offer" wins.
    assert clean_overrides(1, {"claim": 5}) == {"offer": 5}
    assert clean_overrides(1, {"offer": 5, "claim": 7}) == {"offer": 5}
    assert clean_overrides(1, {"claim": -1, "review": True}) == {}
    assert Sla.load().minutes(1, "review") == KNOWN_MINUTES["review"]


def test_statistics_and_desk_agree_on_overdue_with_the_deployment_defaults(settings, world, resident):
    """The figures once read a settings key nobody set and counted a submitted order overdue
    after 30 minutes while the desk and the timers waited 60: one SLA table now."""
    from orders.states import Status
    from web.selectors import clock_for

    settings.SANDAN_TIMERS = {**settings.SANDAN_TIMERS, "REVIEW_MINUTES": 60}
    order = build(branch=world.north_branch, resident=resident, status=Status.SUBMITTED, created="2026-04-01 11:15")
    at_45 = local("2026-04-01 12:00")
    cohort = Cohort(date(2026, 4, 1), date(2026, 4, 1), branch_ids=(world.north_branch.pk,))
    assert figures(cohort, now=at_45)["overdue"] == 0
    assert not clock_for(order, at_45).overdue
    at_75 = local("2026-04-01 12:30")
    assert figures(cohort, now=at_75)["overdue"] == 1
    assert clock_for(order, at_75).overdue


def test_dashboard_series_sums_give_the_same_ratings_as_the_figures(world, march, doer):
    for cohort in (north(world), Cohort(*MARCH, volunteer_id=doer.pk)):
        rows = series(cohort, by="day")
        assert figures(cohort, now=NOW, rating_counts=rating_totals(rows)) == figures(cohort, now=NOW)
