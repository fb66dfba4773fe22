"""The state table of docs/design.md, cell by cell: every action tried from every status through
the API, by the person who would be entitled to take it.

An allowed cell moves the order to the table's target and writes exactly one timeline row
(from, to, actor). A refused cell answers 409 and leaves the order, its timeline and its
offers exactly as they were. A few people only relate to an order in some states (an offer
exists only while dispatched; a volunteer is assigned only from claimed on): where that
relation is missing they are refused as strangers (404) or as the wrong role (403) instead,
and the order is just as untouched.
"""

from __future__ import annotations

from typing import Any

import pytest

from orders.models import OrderEvent
from orders.states import TRANSITIONS, WITH_VOLUNTEER, Status
from tests.orders.conftest import Cast, snapshot

pytestmark = pytest.mark.django_db

STATUSES = [s.value for s in Status]
ACTIONS = list(TRANSITIONS)

# Who takes each action in this table: the desk, the resident, the volunteer who claimed,
# or `volunteer2`, who shares the pool offer with the claimant.
ACTOR = {
    "accept": "secretary",
    "reject": "secretary",
    "transfer": "secretary",
    "dispatch": "secretary",
    "recall": "secretary",
    "cancel": "resident",
    "confirm": "resident",
    "reopen": "resident",
    "claim": "volunteer2",
    "decline": "volunteer2",
    "release": "volunteer",
    "start": "volunteer",
    "complete": "volunteer",
    "merge": "secretary",
}

# Timeline rows the system adds right after an action, by design: a release re-offers the
# order to the next ranked volunteer (`spare_volunteer`).
FOLLOW_UPS = {"release": ["cascade"]}


def body_for(action: str, world, people: dict[str, Any]) -> dict[str, Any]:
    return {
        "reject": {"reason": "Outside what we do"},
        "transfer": {"branch": world.south_branch.pk, "reason": "Their grid"},
        "cancel": {"reason": "Sorted it out myself"},
        "dispatch": {"mode": "direct", "volunteer": people["spare_volunteer"].volunteer.pk},
        "decline": {"reason": "Too far today"},
        "recall": {"reason": "Wrong volunteers"},
        "release": {"reason": "Feeling unwell"},
        "complete": {"note": "Delivered", "hours": "1.50"},
        "confirm": {"rating": 4, "comment": "Good"},
        "reopen": {"reason": "The tap still drips"},
    }.get(action, {})


def refusal(action: str, status: str) -> tuple[int, str]:
    """The answer to a refused cell, given the actor's relation to the order in `status`."""
    if action == "claim":
        # volunteer2 was offered the order in the pool and lost it to `volunteer`.
        if status in WITH_VOLUNTEER:
            return 409, "already_claimed"
        return 404, "not_found"  # never offered: a stranger to the order
    if action == "decline":
        return 404, "not_found"  # no open offer left to decline: a stranger again
    if action in {"release", "start", "complete"}:
        if status in WITH_VOLUNTEER:
            return 409, "invalid_transition"  # still the assigned volunteer
        if status == Status.DISPATCHED:
            return 403, "not_permitted"  # offered, but not assigned
        return 404, "not_found"
    return 409, "invalid_transition"  # the desk and the resident relate in every state


@pytest.fixture
def people(resident, secretary, volunteer, volunteer2, spare_volunteer, staff) -> dict[str, Any]:
    return {
        "resident": resident,
        "secretary": secretary,
        "volunteer": volunteer,
        "volunteer2": volunteer2,
        "spare_volunteer": spare_volunteer,
        "staff": staff,
    }


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
def test_state_table_cell(action, status, api, world, people, new_order, reach):
    who = Cast(
        resident=people["resident"],
        secretary=people["secretary"],
        offered=[people["volunteer"], people["volunteer2"]],
    )
    order = reach(new_order(), status, who)
    actor = people[ACTOR[action]]
    before = snapshot(order.pk)
    last_event = before["events"][-1][0]
    transition = TRANSITIONS[action]

    data = body_for(action, world, people)
    if action == "merge":
        data["into"] = new_order().pk  # the same need, posted again
    response = api(actor).post(f"/api/v1/orders/{order.pk}/{action}", data, format="json")

    if Status(status) in transition.sources:
        assert response.status_code == 200, response.data
        order.refresh_from_db()
        new = list(OrderEvent.objects.filter(order=order, id__gt=last_event).order_by("id"))
        assert [e.action for e in new] == [action, *FOLLOW_UPS.get(action, [])]
        assert (new[0].from_status, new[0].to_status, new[0].actor_id) == (status, transition.target, actor.pk)
        assert all(e.actor_id is None for e in new[1:])  # follow-ups are the system's
        assert order.status == new[-1].to_status == transition.target
    else:
        code, error = refusal(action, status)
        assert response.status_code == code, response.data
        assert response.data["code"] == error
        assert snapshot(order.pk) == before


def test_every_cell_is_covered():
    """The table above is the whole lifecycle: a new action or state must show up here."""
    assert set(ACTOR) == set(TRANSITIONS)
    assert {s for t in TRANSITIONS.values() for s in t.sources} | {t.target for t in TRANSITIONS.values()} <= set(
        Status
    )


def test_release_with_nobody_left_goes_back_to_the_desk(api, new_order, reach, volunteer):
    """Without another candidate the cascade ends in a system recall: accepted, no open offer."""
    order = reach(new_order(), "claimed")
    response = api(volunteer).post(f"/api/v1/orders/{order.pk}/release", {"reason": "Unwell"}, format="json")
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Status.ACCEPTED and order.volunteer_id is None
    timeline = list(OrderEvent.objects.filter(order=order).values_list("action", "from_status", "to_status", "actor"))
    assert timeline[-2:] == [
        ("release", "claimed", "dispatched", volunteer.pk),
        ("recall", "dispatched", "accepted", None),
    ]
    assert not order.offers.filter(status="open").exists()


def test_last_decline_cascades_to_the_next_volunteer(api, new_order, reach, volunteer, spare_volunteer):
    order = reach(new_order(), "dispatched")
    response = api(volunteer).post(f"/api/v1/orders/{order.pk}/decline", {"reason": "Busy"}, format="json")
    assert response.status_code == 200
    # The decliner no longer relates to the order: they get an ack, not the order.
    assert response.data == {"id": order.pk, "ok": True}
    order.refresh_from_db()
    assert order.status == Status.DISPATCHED
    assert list(order.offers.filter(status="open").values_list("volunteer__user", flat=True)) == [spare_volunteer.pk]
    assert list(OrderEvent.objects.filter(order=order).values_list("action", flat=True))[-2:] == ["decline", "cascade"]


def test_transfer_moves_the_order_to_the_other_desk(api, new_order, reach, secretary, other_secretary, world):
    order = reach(new_order(), "accepted")
    response = api(secretary).post(
        f"/api/v1/orders/{order.pk}/transfer", {"branch": world.south_branch.pk, "reason": "Theirs"}, format="json"
    )
    # The north desk handed it on and no longer sees it; the south desk reviews it anew.
    assert response.status_code == 200 and response.data == {"id": order.pk, "ok": True}
    order.refresh_from_db()
    assert (order.status, order.branch_id, order.reviewed_at) == ("submitted", world.south_branch.pk, None)
    assert api(other_secretary).post(f"/api/v1/orders/{order.pk}/accept").status_code == 200
    assert api(secretary).get(f"/api/v1/orders/{order.pk}").status_code == 404


def test_reopen_after_the_window_is_refused(api, new_order, reach, resident, settings):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import Order

    order = reach(new_order(), "closed")
    Order.objects.filter(pk=order.pk).update(
        closed_at=timezone.now() - timedelta(days=settings.SANDAN["CONFIRM_DAYS"], minutes=1)
    )
    before = snapshot(order.pk)
    response = api(resident).post(f"/api/v1/orders/{order.pk}/reopen", {"reason": "Broken again"}, format="json")
    assert response.status_code == 409 and response.data["code"] == "invalid_transition"
    assert snapshot(order.pk) == before


def test_reopened_order_can_run_the_whole_way_again(api, new_order, reach, resident, secretary, volunteer2):
    order = reach(new_order(), "closed")
    assert (
        api(resident).post(f"/api/v1/orders/{order.pk}/reopen", {"reason": "Again"}, format="json").status_code == 200
    )
    order.refresh_from_db()
    assert (order.status, order.volunteer_id, order.reopen_count) == ("accepted", None, 1)
    # The volunteer who did it before no longer sees the address.
    done_by = OrderEvent.objects.get(order=order, action="claim").actor
    assert api(done_by).get(f"/api/v1/orders/{order.pk}").status_code == 404
    desk = api(secretary)
    assert (
        desk.post(
            f"/api/v1/orders/{order.pk}/dispatch",
            {"mode": "direct", "volunteer": volunteer2.volunteer.pk},
            format="json",
        ).status_code
        == 200
    )
    assert api(volunteer2).post(f"/api/v1/orders/{order.pk}/claim").status_code == 200


def test_a_desk_cannot_cancel_an_order_transferred_away_meanwhile(monkeypatch, new_order, secretary, world):
    """The interleaving of a race, made deterministic: the north desk read the order, then a
    transfer to the south desk committed, then the north desk's cancel runs."""
    from orders import services
    from orders.errors import InvalidTransition

    order = new_order()
    stale = services._load(order.pk, secretary)
    services.order_transfer(order_id=order.pk, user=secretary, reason="Theirs", branch_id=world.south_branch.pk)
    monkeypatch.setattr(services, "_load", lambda order_id, user: stale)
    with pytest.raises(InvalidTransition):
        services.order_cancel(order_id=order.pk, user=secretary, reason="Duplicate")
    order.refresh_from_db()
    assert (order.status, order.branch_id) == ("submitted", world.south_branch.pk)
