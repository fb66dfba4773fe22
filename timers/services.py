"""The SLA timers (issue 6): what the worker does each tick.

A tick, for each step in turn:
1. claims due work: orders past their SLA are selected `FOR UPDATE SKIP LOCKED` (PostgreSQL;
   SQLite's IMMEDIATE transactions serialise writers instead), and a `TimerStep` row per
   (order, step, anchor) is written as a lease (owner + expiry) in the same short transaction.
   Another worker's scan skips the locked rows, and after commit it skips the lease.
2. runs each leased step in its own transaction: lock the order row, check the step is still
   ours and still due, act through the orders service for the step (`order_escalate`,
   `order_widen`, `order_remind`, `order_release_overdue`, `order_close_unconfirmed`: they
   write the order, its offers, the timeline and the outbox), and mark the step done — all
   in one commit. The timers decide when; orders decides what happens to an order.

Exactly once: the unique (order, step, anchor) row is both the lease and the proof; a step
is done and its effects are committed together or not at all. A worker that dies while holding
a lease leaves a LEASED row whose expiry lets the next worker take it over; a slow worker whose
lease was taken over finds the step no longer its own and does nothing. Locks are always taken
order row → step row, by the scan and by the run, so two workers cannot deadlock.

The clock is a parameter (`now`) so tests drive it without sleeping. Timestamps the orders
services write themselves (claimed_at, closed_at...) come from the real clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders import services as order_services
from orders.errors import OrderError
from orders.models import Offer, Order, OrderEvent
from orders.sla import Sla
from orders.states import Status
from timers.models import Step, TimerStep

logger = logging.getLogger(__name__)

FIRED = "fired"
STALE = "stale"  # no longer due when we got to it: a person acted first
LOST = "lost_race"  # the orders service refused: a concurrent action changed the order


# --- due work: one queryset per step ---------------------------------------------------------


def _last_transfer() -> Subquery:
    return Subquery(OrderEvent.objects.filter(order=OuterRef("pk"), action="transfer").order_by("-at").values("at")[:1])


def _newest_open_offer() -> Subquery:
    return Subquery(
        Offer.objects.filter(order=OuterRef("pk"), status=Offer.Status.OPEN)
        .order_by("-created_at")
        .values("created_at")[:1]
    )


def due_orders(step: str, *, now: datetime, sla: Sla) -> QuerySet[Order]:
    """Orders for which `step` is due at `now`, each annotated with its `anchor`.

    Says nothing about whether the step already ran: see `_unhandled`."""
    orders = Order.objects.all()
    if step == Step.REVIEW_ESCALATE:
        # Counted from the order's arrival at its current branch: a transferred order gets a
        # review period of its own at the target (and may be escalated there again).
        return (
            orders.filter(status=Status.SUBMITTED)
            .annotate(anchor=Coalesce(_last_transfer(), F("created_at")))
            .filter(sla.cutoff_q("anchor", "review", now))
            .filter(Q(escalated_at__isnull=True) | Q(escalated_at__lt=F("anchor")))
        )
    if step == Step.OFFER_WIDEN:
        # Widen when nobody has been offered the order for a whole offer period.
        return (
            orders.filter(status=Status.DISPATCHED)
            .annotate(anchor=_newest_open_offer())
            .filter(sla.cutoff_q("anchor", "offer", now), anchor__isnull=False)
        )
    if step == Step.CLAIM_REMIND:
        return orders.filter(sla.cutoff_q("claimed_at", "start", now), status=Status.CLAIMED).annotate(
            anchor=F("claimed_at")
        )
    if step == Step.CLAIM_RELEASE:
        return orders.filter(sla.cutoff_q("claimed_at", "start", now, factor=2), status=Status.CLAIMED).annotate(
            anchor=F("claimed_at")
        )
    if step == Step.CONFIRM_CLOSE:
        return orders.filter(sla.cutoff_q("completed_at", "confirm", now), status=Status.COMPLETED).annotate(
            anchor=F("completed_at")
        )
    raise ValueError(step)


def _unhandled(qs: QuerySet[Order], step: str, now: datetime) -> QuerySet[Order]:
    """Leave out orders whose step for this anchor is done, given up, or leased to a live worker.
    A lease that has expired does not hide the order: its step is taken over."""
    handled = TimerStep.objects.filter(order=OuterRef("pk"), step=step, anchor=OuterRef("anchor")).filter(
        Q(state__in=[TimerStep.State.DONE, TimerStep.State.FAILED]) | Q(lease_until__gt=now)
    )
    return qs.filter(~Exists(handled))


# --- claiming ---------------------------------------------------------------------------------


def _lease_seconds() -> int:
    return settings.SANDAN_TIMERS["LEASE_SECONDS"]


def steps_claim(*, step: str, now: datetime, worker: str, sla: Sla, limit: int = 100) -> list[int]:
    """Lease up to `limit` due, unhandled steps of one kind to `worker`. Returns step ids.

    The orders are locked with SKIP LOCKED while their leases are written, so concurrent
    workers take disjoint batches; once this commits, the leases keep the others away."""
    lease_until = now + timedelta(seconds=_lease_seconds())
    try:
        with transaction.atomic():
            rows = list(
                _unhandled(due_orders(step, now=now, sla=sla), step, now)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("anchor", "pk")
                .values_list("pk", "anchor")[:limit]  # type: ignore[misc]  # `anchor` is an annotation
            )
            if not rows:
                return []
            existing = {
                (s.order_id, s.anchor): s
                for s in TimerStep.objects.filter(step=step, order_id__in=[pk for pk, _a in rows]).only(
                    "id", "order_id", "anchor", "state", "lease_until"
                )
            }
            taken: list[int] = []
            fresh: list[TimerStep] = []
            for order_id, anchor in rows:
                current = existing.get((order_id, anchor))
                if current is None:
                    fresh.append(
                        TimerStep(
                            order_id=order_id,
                            step=step,
                            anchor=anchor,
                            owner=worker,
                            lease_until=lease_until,
                            attempts=1,
                        )
                    )
                    continue
                # A lease left by a worker that died (or stalled past its expiry): take it over.
                took = TimerStep.objects.filter(
                    pk=current.pk, state=TimerStep.State.LEASED, lease_until__lte=now
                ).update(owner=worker, lease_until=lease_until, attempts=F("attempts") + 1)
                if took == 1:
                    taken.append(current.pk)
            if fresh:
                created = TimerStep.objects.bulk_create(fresh)
                ids = [s.pk for s in created if s.pk is not None]
                if len(ids) != len(created):  # backends that do not return ids
                    ids = list(
                        TimerStep.objects.filter(
                            step=step, owner=worker, lease_until=lease_until, order_id__in=[s.order_id for s in fresh]
                        ).values_list("id", flat=True)
                    )
                taken.extend(ids)
            return taken
    except IntegrityError:
        # Someone else leased the same step between our scan and our insert (only possible
        # where row locks are not available); the next tick sees their lease.
        logger.info("timers: lost a lease race on %s; retrying next tick", step)
        return []


# --- running ----------------------------------------------------------------------------------


def step_run(*, step_id: int, now: datetime, worker: str, sla: Sla) -> str | None:
    """Run one leased step. Returns its outcome, or None if the lease is no longer ours.

    The order row is locked first (as in `steps_claim`), then the step row, which must still
    be LEASED to us: a worker that took it over after our lease expired has changed the owner,
    and a worker that finished it has changed the state, so only one of us can get past here.
    The effects of the step and the DONE mark commit together."""
    head = TimerStep.objects.filter(pk=step_id).values_list("order_id", "step").first()
    if head is None:
        return None
    order_id, step = head
    try:
        with transaction.atomic():
            Order.objects.select_for_update().filter(pk=order_id).values_list("pk").first()
            record = (
                TimerStep.objects.select_for_update()
                .filter(pk=step_id, owner=worker, state=TimerStep.State.LEASED)
                .first()
            )
            if record is None:
                return None
            due = due_orders(step, now=now, sla=sla)
            still_due = due.filter(pk=order_id, anchor=record.anchor).exists()  # type: ignore[misc]
            outcome = STALE
            if still_due:
                order = Order.objects.get(pk=order_id)
                outcome = _FIRE[step](order, record, now, sla)
            TimerStep.objects.filter(pk=step_id).update(
                state=TimerStep.State.DONE, outcome=outcome, done_at=now, lease_until=None, last_error=""
            )
            return outcome
    except Exception as exc:
        # A bug or an outage: leave the lease to expire so that the step is retried, and give
        # up after a few attempts so that one poisoned order cannot stall the others forever.
        logger.exception("timers: step %s (%s for order %s) failed", step_id, step, order_id)
        give_up = Q(attempts__gte=settings.SANDAN_TIMERS["MAX_ATTEMPTS"])
        TimerStep.objects.filter(pk=step_id, owner=worker, state=TimerStep.State.LEASED).filter(give_up).update(
            state=TimerStep.State.FAILED, last_error=repr(exc)[:2000], lease_until=None
        )
        TimerStep.objects.filter(pk=step_id, owner=worker, state=TimerStep.State.LEASED).update(
            last_error=repr(exc)[:2000]
        )
        return None


@dataclass
class TickResult:
    fired: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def timers_tick(*, now: datetime | None = None, worker: str, limit: int = 100, rounds: int = 50) -> TickResult:
    """Run every due step once, in `Step` order, in batches of `limit`.

    `rounds` bounds one tick's work so that the loop comes back to the outbox relay."""
    now = now or timezone.now()
    sla = Sla.load()
    result = TickResult()
    for step in Step.values:
        for _round in range(rounds):
            ids = steps_claim(step=step, now=now, worker=worker, sla=sla, limit=limit)
            if not ids:
                break
            for step_id in ids:
                outcome = step_run(step_id=step_id, now=now, worker=worker, sla=sla)
                if outcome is None:
                    continue
                result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
                if outcome == FIRED:
                    result.fired[step] = result.fired.get(step, 0) + 1
    return result


# --- the steps: each one orders service, in a savepoint so that a lost race is an outcome ---------


def _fire(act: Callable[[], object]) -> str:
    try:
        with transaction.atomic():
            act()
    except OrderError:
        return LOST  # a person (or another step) changed the order first
    return FIRED


def _escalate(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    minutes = sla.minutes(order.branch_id, "review")
    return _fire(lambda: order_services.order_escalate(order_id=order.pk, anchor=step.anchor, minutes=minutes, at=now))


def _widen(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    minutes = sla.minutes(order.branch_id, "offer")
    # The first widening of this dispatch offers it to the next ranked, later ones to everyone.
    earlier = TimerStep.objects.filter(
        order=order, step=Step.OFFER_WIDEN, state=TimerStep.State.DONE, anchor__gte=order.dispatched_at
    ).count()
    return _fire(lambda: order_services.order_widen(order_id=order.pk, level=earlier + 1, minutes=minutes, at=now))


def _remind(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    minutes = sla.minutes(order.branch_id, "start")
    return _fire(lambda: order_services.order_remind(order_id=order.pk, minutes=minutes, at=now))


def _release(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    minutes = sla.minutes(order.branch_id, "start")
    return _fire(lambda: order_services.order_release_overdue(order_id=order.pk, minutes=minutes, at=now))


def _close(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    return _fire(lambda: order_services.order_close_unconfirmed(order_id=order.pk))


_FIRE: dict[str, Callable[[Order, TimerStep, datetime, Sla], str]] = {
    Step.REVIEW_ESCALATE: _escalate,
    Step.OFFER_WIDEN: _widen,
    Step.CLAIM_REMIND: _remind,
    Step.CLAIM_RELEASE: _release,
    Step.CONFIRM_CLOSE: _close,
}
