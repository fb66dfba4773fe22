"""Each SLA timer fires once, at the right moment, and reaches the right people."""

from __future__ import annotations

import pytest

from notifications.models import Event, Notification
from orders import services
from orders.errors import InvalidInput
from orders.models import Offer, Order, OrderEvent, Rating
from orders.sla import Sla
from timers.models import Step, TimerStep
from timers.services import STALE, step_run, steps_claim
from volunteers.models import VolunteerRecord


def actions(order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).order_by("id").values_list("action", flat=True))


def kinds_for(user) -> list[str]:
    return list(Event.objects.filter(recipient=user).values_list("kind", flat=True))


@pytest.mark.django_db
class TestReviewEscalation:
    def test_unreviewed_order_is_escalated_to_staff_exactly_once(self, submit, staff, secretary, resident, at, tick):
        order = submit()
        tick(at(29))
        order.refresh_from_db()
        assert order.escalated_at is None
        assert "escalate" not in actions(order)

        tick(at(31))
        tick(at(31))  # the same moment again: nothing more
        tick(at(300))  # much later: still nothing more
        order.refresh_from_db()
        assert order.escalated_at is not None
        assert order.status == "submitted"
        assert actions(order).count("escalate") == 1
        assert Notification.objects.filter(user=staff, kind="order.escalated", order=order).count() == 1
        assert Notification.objects.filter(user=secretary, kind="desk.flag", order=order).count() == 1
        assert "order.updated" in kinds_for(resident)
        assert Notification.objects.filter(user=resident, kind="order.notice", order=order).count() == 1

    def test_escalation_event_has_no_actor_and_no_personal_data(self, submit, staff, at, tick):
        order = submit()
        tick(at(31))
        event = OrderEvent.objects.get(order=order, action="escalate")
        assert event.actor is None
        assert order.contact_phone not in event.note and order.address not in event.note

    def test_reviewed_order_is_not_escalated(self, submit, secretary, staff, at, tick):
        order = submit()
        services.order_accept(order_id=order.pk, user=secretary)
        tick(at(31))
        order.refresh_from_db()
        assert order.escalated_at is None
        assert not Notification.objects.filter(user=staff, kind="order.escalated").exists()

    def test_transferred_order_gets_a_review_period_at_its_new_branch(
        self, submit, secretary, other_secretary, staff, world, at, tick
    ):
        order = submit()
        services.order_transfer(order_id=order.pk, user=secretary, reason="Their grid", branch_id=world.south_branch.pk)
        OrderEvent.objects.filter(order=order, action="transfer").update(at=at(20))  # 20 minutes in
        tick(at(31))  # only 11 minutes at the south branch
        order.refresh_from_db()
        assert order.escalated_at is None
        tick(at(51))
        tick(at(51))
        order.refresh_from_db()
        assert order.escalated_at is not None
        assert actions(order).count("escalate") == 1
        assert Notification.objects.filter(user=other_secretary, kind="desk.flag", order=order).count() == 1
        assert not Notification.objects.filter(user=secretary, kind="desk.flag", order=order).exists()

    def test_escalated_order_moved_by_staff_is_escalated_again_if_left_at_the_target(
        self, submit, staff, world, at, tick
    ):
        order = submit()
        tick(at(31))  # escalated at the north branch
        services.order_transfer(order_id=order.pk, user=staff, reason="South can help", branch_id=world.south_branch.pk)
        OrderEvent.objects.filter(order=order, action="transfer").update(at=at(35))
        tick(at(60))
        assert actions(order).count("escalate") == 1
        tick(at(66))
        tick(at(66))
        assert actions(order).count("escalate") == 2

    def test_branch_override_shortens_the_review_deadline(self, world, submit, staff, at, tick):
        world.north_branch.sla = {"review": 5}
        world.north_branch.save()
        order = submit()
        tick(at(6))
        order.refresh_from_db()
        assert order.escalated_at is not None

    def test_nonsense_override_falls_back_to_the_default(self, world, submit, staff, at, tick):
        world.north_branch.sla = {"review": "soon", "offer": -3}
        world.north_branch.save()
        order = submit()
        tick(at(6))
        order.refresh_from_db()
        assert order.escalated_at is None
        assert Sla.load().minutes(world.north_branch.pk, "review") == 30


@pytest.mark.django_db
class TestOfferWidening:
    def test_lapsed_offer_goes_to_the_next_ranked_then_to_everyone(
        self, submit, advance, volunteer, volunteer2, volunteer3, secretary, at, tick
    ):
        order = advance(submit(), "dispatched")  # direct offer to `volunteer`
        tick(at(9))
        assert Offer.objects.get(order=order, volunteer=volunteer.volunteer).status == "open"

        tick(at(11))
        tick(at(11))
        first = Offer.objects.get(order=order, volunteer=volunteer.volunteer)
        assert first.status == Offer.Status.EXPIRED
        # Letting an offer lapse counts against the volunteer's reliability, like declining.
        assert VolunteerRecord.objects.get(volunteer=volunteer.volunteer).dropped == 1
        open_now = list(
            Offer.objects.filter(order=order, status="open").values_list("volunteer__user__username", flat=True)
        )
        assert open_now == ["volunteer2"]  # the next ranked: closest after `volunteer`
        assert actions(order).count("widen") == 1
        assert "offer.withdrawn" in kinds_for(volunteer)
        assert "offer.new" in kinds_for(volunteer2)
        assert Notification.objects.filter(user=secretary, kind="desk.flag", order=order).count() == 1

        # Offers made by the timer count from when they were made, not from the dispatch.
        for offer in Offer.objects.filter(order=order, status="open"):
            assert offer.expires_at is not None

    def test_second_lapse_broadcasts_and_last_lapse_returns_to_the_desk(
        self, submit, advance, volunteer, volunteer2, volunteer3, secretary, at, tick
    ):
        order = advance(submit(), "dispatched")
        tick(at(11))  # → volunteer2
        Offer.objects.filter(order=order, status="open").update(created_at=at(12))
        tick(at(23))  # → broadcast: everyone left (volunteer3)
        order.refresh_from_db()
        widen = OrderEvent.objects.filter(order=order, action="widen").order_by("id")
        assert [e.data["mode"] for e in widen] == ["direct", "broadcast"]
        assert list(
            Offer.objects.filter(order=order, status="open").values_list("volunteer__user__username", flat=True)
        ) == ["volunteer3"]

        Offer.objects.filter(order=order, status="open").update(created_at=at(24))
        tick(at(35))  # nobody is left: back to the desk
        order.refresh_from_db()
        assert order.status == "accepted"
        assert "recall" in actions(order)
        flags = Notification.objects.filter(user=secretary, kind="desk.flag", order=order).count()
        assert flags == 3

    def test_volunteer_who_let_an_offer_lapse_is_never_offered_it_again(
        self, submit, advance, volunteer, volunteer2, secretary, at, tick
    ):
        order = advance(submit(), "dispatched")
        tick(at(11))
        services.order_recall(order_id=order.pk, user=secretary, reason="Rethink")
        with pytest.raises(InvalidInput):
            services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)

    def test_lapsed_volunteer_cannot_claim_late(self, submit, advance, volunteer, volunteer2, at, tick):
        order = advance(submit(), "dispatched")
        tick(at(11))
        with pytest.raises(Exception):  # noqa: B017 - 403/404/409 all mean "not yours"
            services.order_claim(order_id=order.pk, user=volunteer)
        order.refresh_from_db()
        assert order.status == "dispatched"
        assert order.volunteer is None


@pytest.mark.django_db
class TestClaimNotStarted:
    def test_reminder_then_release_and_reoffer(self, submit, advance, volunteer, volunteer2, secretary, at, tick):
        order = advance(submit(), "claimed")
        tick(at(59))
        assert "remind" not in actions(order)

        tick(at(61))
        tick(at(61))
        assert actions(order).count("remind") == 1
        assert Notification.objects.filter(user=volunteer, kind="order.reminder", order=order).count() == 1
        order.refresh_from_db()
        assert order.status == "claimed"

        tick(at(121))
        tick(at(121))
        order.refresh_from_db()
        assert order.status == "dispatched"  # re-offered
        assert actions(order).count("release") == 1
        release = OrderEvent.objects.get(order=order, action="release")
        assert release.actor is None
        assert Offer.objects.get(order=order, volunteer=volunteer.volunteer).status == Offer.Status.DECLINED
        assert Offer.objects.filter(order=order, volunteer=volunteer2.volunteer, status="open").exists()
        assert Notification.objects.filter(user=secretary, kind="desk.flag", order=order).count() == 1
        tick(at(500))
        assert (actions(order).count("remind"), actions(order).count("release")) == (1, 1)

    def test_started_order_gets_no_reminder(self, submit, advance, at, tick):
        order = advance(submit(), "in_progress")
        tick(at(200))
        assert "remind" not in actions(order)
        assert "release" not in actions(order)

    def test_a_new_claim_gets_its_own_reminder(self, submit, advance, volunteer, volunteer2, at, tick):
        order = advance(submit(), "claimed")
        tick(at(121))  # reminder and release of the first claim
        services.order_claim(order_id=order.pk, user=volunteer2)
        Order.objects.filter(pk=order.pk).update(claimed_at=at(121))  # claimed at that moment of our clock
        tick(at(121))  # the new claim is fresh: nothing yet
        assert actions(order).count("remind") == 1
        tick(at(182))
        assert actions(order).count("remind") == 2


@pytest.mark.django_db
class TestConfirmClose:
    def test_unconfirmed_completed_order_is_closed_without_rating(self, submit, advance, resident, at, tick):
        order = advance(submit(), "completed")
        tick(at(7 * 24 * 60 - 1))
        order.refresh_from_db()
        assert order.status == "completed"

        tick(at(7 * 24 * 60 + 1))
        tick(at(7 * 24 * 60 + 1))
        order.refresh_from_db()
        assert order.status == "closed"
        assert not Rating.objects.filter(order=order).exists()
        assert actions(order).count("confirm") == 1
        assert OrderEvent.objects.get(order=order, action="confirm").actor is None
        assert Notification.objects.filter(user=resident, kind="order.notice", order=order).exists()


@pytest.mark.django_db
class TestLeases:
    def test_step_of_a_crashed_worker_is_taken_over_after_its_lease(self, submit, staff, at, tick):
        order = submit()
        now = at(31)
        # A worker leases the step and dies before running it.
        (leased,) = steps_claim(step=Step.REVIEW_ESCALATE, now=now, worker="dead", sla=Sla.load())
        tick(at(31.5), worker="alive")  # lease still valid: hands off
        order.refresh_from_db()
        assert order.escalated_at is None

        tick(at(32.5), worker="alive")  # lease expired (60 s): taken over
        order.refresh_from_db()
        assert order.escalated_at is not None
        step = TimerStep.objects.get(pk=leased)
        assert (step.state, step.owner, step.attempts) == ("done", "alive", 2)

        # The dead worker wakes up and tries to finish its step: it is not its own any more.
        assert step_run(step_id=leased, now=at(33), worker="dead", sla=Sla.load()) is None
        assert actions(order).count("escalate") == 1

    def test_person_acting_first_makes_the_step_stale(self, submit, advance, volunteer, at):
        order = advance(submit(), "claimed")
        (leased,) = steps_claim(step=Step.CLAIM_REMIND, now=at(61), worker="w", sla=Sla.load())
        services.order_start(order_id=order.pk, user=volunteer)
        assert step_run(step_id=leased, now=at(61), worker="w", sla=Sla.load()) == STALE
        assert "remind" not in actions(order)
        assert TimerStep.objects.get(pk=leased).state == "done"

    def test_failing_step_is_retried_then_given_up(self, submit, staff, at, tick, monkeypatch, settings):
        from timers import services as timer_services

        settings.SANDAN_TIMERS = {**settings.SANDAN_TIMERS, "MAX_ATTEMPTS": 2}
        order = submit()
        monkeypatch.setitem(timer_services._FIRE, Step.REVIEW_ESCALATE, lambda *a: 1 / 0)
        tick(at(31))
        step = TimerStep.objects.get(order=order)
        assert step.state == "leased" and "ZeroDivisionError" in step.last_error
        tick(at(33))  # lease expired: retried, fails again, given up
        step.refresh_from_db()
        assert step.state == "failed"
        tick(at(40))
        assert TimerStep.objects.get(order=order).attempts == 2
        order.refresh_from_db()
        assert order.escalated_at is None
