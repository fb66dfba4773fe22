"""Candidate retrieval and ranking against the database (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from matching.services import rank_for_order
from orders import services
from orders.models import Offer, Order, Rating
from tests.factories import BASE_LAT, BASE_LNG, AreaFactory, BranchFactory, OrderFactory, VolunteerFactory
from tests.matching.conftest import go_live, imported_history
from volunteers.models import Area

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["members", pytest.param("walk", marks=pytest.mark.postgres)])
def both_ways(request, monkeypatch):
    """Run a retrieval test through both ways into PostgreSQL: from the scope's memberships
    (what small scopes use) and the nearest-first GiST walk (what dense ones use)."""
    if request.param == "walk":
        monkeypatch.setattr("matching.candidates.MEMBERS_FIRST_MAX", -1)
    return request.param


def ids(ranked):
    return [r.volunteer_id for r in ranked]


def test_nearest_member_ranks_first_and_every_row_says_why(both_ways, accepted, member):
    near, far = member("near", 0.001), member("far", 0.02)
    ranked = rank_for_order(accepted(), limit=10)
    assert ids(ranked) == [near.pk, far.pk]
    top = ranked[0]
    assert set(top.reasons) == {"skill", "distance", "load", "fairness", "reliability", "rating"}
    assert top.score == pytest.approx(sum(top.reasons.values()), abs=1e-5)
    assert top.reasons["distance"] > ranked[1].reasons["distance"]
    assert top.scope == "branch" and 100 < top.distance_m < 125


def test_fresh_live_location_wins_over_base(both_ways, accepted, member):
    commuter = member("commuter", 0.2)  # lives 22 km away: out of range from home
    order = accepted()
    assert ids(rank_for_order(order, limit=10)) == []
    go_live(commuter, 0.001)
    [row] = rank_for_order(order, limit=10)
    assert row.volunteer_id == commuter.pk and row.details["location"] == "live" and row.distance_m < 150


def test_stale_live_location_falls_back_to_base(both_ways, accepted, member):
    home = member("home", 0.001)
    go_live(home, 0.2, minutes_ago=1)  # just drove off, out of range
    order = accepted()
    assert ids(rank_for_order(order, limit=10)) == []
    go_live(home, 0.2, minutes_ago=30)  # that position is old news: home counts again
    [row] = rank_for_order(order, limit=10)
    assert row.details["location"] == "base" and row.distance_m < 150


def test_own_branch_first_then_community_then_nothing_outside_the_street(both_ways, world, accepted, member):
    own = member("own", 0.03)  # 3.3 km away
    neighbour = member("neighbour", 0.0005, branch=world.south_branch)  # next door, other branch
    other_street = Area.objects.create(
        name="Other street", level=Area.Level.STREET, center_lat=BASE_LAT, center_lng=BASE_LNG
    )
    stranger_branch = BranchFactory(area=AreaFactory(parent=other_street))
    stranger = member("stranger", 0.0001, branch=stranger_branch)
    order = accepted()
    ranked = rank_for_order(order, limit=10)
    assert ids(ranked) == [own.pk, neighbour.pk]
    assert [r.scope for r in ranked] == ["branch", "community"]
    # The own branch fills a short list by itself; the community is only a fallback.
    assert ids(rank_for_order(order, limit=1)) == [own.pk]
    assert stranger.pk not in ids(rank_for_order(order, limit=50))


def test_a_street_level_branch_is_the_last_tier(both_ways, world, accepted, member):
    street_branch = BranchFactory(area=world.street)
    walker = member("walker", 0.0002, branch=street_branch)
    neighbour = member("neighbour", 0.0004, branch=world.south_branch)
    ranked = rank_for_order(accepted(), limit=10)
    assert [(r.volunteer_id, r.scope) for r in ranked] == [(neighbour.pk, "community"), (walker.pk, "street")]


def test_declined_volunteer_is_never_ranked_again_and_the_cascade_moves_on(both_ways, accepted, member, secretary):
    first, second = member("first", 0.001), member("second", 0.002)
    order = accepted()
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=first.pk)
    services.order_decline(order_id=order.pk, user=first.user, reason="Busy")
    assert Offer.objects.get(order=order, status=Offer.Status.OPEN).volunteer_id == second.pk
    assert first.pk not in ids(rank_for_order(Order.objects.get(pk=order.pk), limit=10))


def test_requester_is_never_a_candidate_for_their_own_order(both_ways, world, resident, accepted, member):
    VolunteerFactory(user=resident, branches=[world.north_branch], base_lat=BASE_LAT, base_lng=BASE_LNG)
    other = member("other", 0.002)
    assert ids(rank_for_order(accepted(), limit=10)) == [other.pk]


def test_volunteer_at_capacity_is_left_out_and_load_counts_below_it(both_ways, accepted, member, resident):
    busy, half, idle = member("busy", 0.001, capacity=1), member("half", 0.001, capacity=2), member("idle", 0.003)
    for v in (busy, half):
        OrderFactory(resident=resident, volunteer=v, status="claimed")
    imported_history()
    ranked = {r.volunteer_id: r for r in rank_for_order(accepted(), limit=10)}
    assert busy.pk not in ranked
    assert ranked[half.pk].details["held"] == 1 and ranked[half.pk].reasons["load"] == pytest.approx(0.5)
    assert ranked[idle.pk].reasons["load"] == pytest.approx(1.0)


def test_off_duty_volunteer_counts_only_inside_their_weekly_slots(both_ways, accepted, member):
    start = timezone.localtime() + timedelta(days=1)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[start.weekday()]
    slot = [f"{start.hour:02d}:00", f"{min(start.hour + 2, 23):02d}:59"]
    planner = member("planner", 0.001, on_duty=False, availability={day: [slot]})
    member("sleeper", 0.001, on_duty=False)  # no slots at all
    assert ids(rank_for_order(accepted(window_start=start, window_end=start + timedelta(hours=1)), limit=10)) == [
        planner.pk
    ]
    assert (
        ids(
            rank_for_order(
                accepted(window_start=start + timedelta(hours=5), window_end=start + timedelta(hours=6)), limit=10
            )
        )
        == []
    )


def test_record_and_rating_come_from_the_volunteers_orders(both_ways, accepted, member, resident):
    veteran, newcomer = member("veteran", 0.001), member("newcomer", 0.001)
    for stars in (5, 3):
        done = OrderFactory(resident=resident, volunteer=veteran, status="closed")
        Rating.objects.create(order=done, volunteer=veteran, rating=stars)
    dropped = OrderFactory(resident=resident)
    Offer.objects.create(order=dropped, volunteer=veteran, mode="direct", status=Offer.Status.EXPIRED)
    imported_history()
    ranked = {r.volunteer_id: r for r in rank_for_order(accepted(), limit=10)}
    vet = ranked[veteran.pk].details
    assert (vet["rating"], vet["ratings"], vet["finished"], vet["dropped"]) == (4.0, 2, 2, 1)
    assert ranked[newcomer.pk].details["rating"] is None
    # Prior of 4.0 over two ratings: (5 + 3 + 8) / 4 = 4.0 for both, so the rating ties...
    assert ranked[veteran.pk].reasons["rating"] == pytest.approx(ranked[newcomer.pk].reasons["rating"])
    # ...and reliability: 2 finished, 1 lapsed → 3/4, while the newcomer starts at 1.
    assert ranked[veteran.pk].reasons["reliability"] == pytest.approx(0.75)


def test_recent_orders_lower_fairness(accepted, member, resident):
    keen, fresh = member("keen", 0.001), member("fresh", 0.001)
    OrderFactory(resident=resident, volunteer=keen, status="closed", claimed_at=timezone.now() - timedelta(days=2))
    OrderFactory(resident=resident, volunteer=keen, status="closed", claimed_at=timezone.now() - timedelta(days=90))
    ranked = {r.volunteer_id: r for r in rank_for_order(accepted(), limit=10)}
    assert ranked[keen.pk].details["recent_orders"] == 1
    assert ranked[keen.pk].reasons["fairness"] < ranked[fresh.pk].reasons["fairness"]


def test_branch_weights_override_the_defaults(world, accepted, member):
    near, skilled = member("near", 0.001), member("skilled", 0.01)
    order = accepted(category="errands")
    needed = list(order.category.skills.all())
    if needed:
        skilled.skills.set(needed)
    world.north_branch.matching_weights = {"distance": 0, "fairness": 0, "skill": 0, "rating": 5}
    world.north_branch.save()
    order = Order.objects.select_related("branch").get(pk=order.pk)
    ranked = rank_for_order(order, limit=10)
    assert all(r.reasons["distance"] == 0 for r in ranked)
    # Every other component is equal, so the ids decide after distance: nearer first.
    assert ids(ranked) == [near.pk, skilled.pk]


def test_pool_dispatch_offers_the_top_ranked(accepted, member, secretary):
    best, second, _third = member("best", 0.0005), member("second", 0.001), member("third", 0.002)
    order = accepted()
    services.order_dispatch(order_id=order.pk, user=secretary, mode="pool", top=2)
    offers = Offer.objects.filter(order=order).order_by("rank")
    assert [(o.volunteer_id, o.rank) for o in offers] == [(best.pk, 1), (second.pk, 2)]


def test_query_count_does_not_grow_with_the_candidates(accepted, member, resident):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order = accepted()
    member("first", 0.001)
    rank_for_order(order, limit=30)  # fills the per-branch scope cache
    with CaptureQueriesContext(connection) as one:
        assert len(rank_for_order(order, limit=30)) == 1
    for i in range(25):
        v = member(f"v{i}", 0.0001 * i)
        OrderFactory(resident=resident, volunteer=v, status="closed")
        Rating.objects.create(order=OrderFactory(resident=resident), volunteer=v, rating=4)
    imported_history()
    with CaptureQueriesContext(connection) as many:
        assert len(rank_for_order(order, limit=30)) == 26
    assert len(many) == len(one)
