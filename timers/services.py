"""The SLA timers (issue 6): what the worker does each tick.

A tick, for each step in turn:
1. claims due work: orders past their SLA are selected `FOR UPDATE SKIP LOCKED` (PostgreSQL;
   SQLite's IMMEDIATE transactions serialise writers instead), and a `TimerStep` row per
   (order, step, anchor) is written as a lease (owner + expiry) in the same short transaction.
   Another worker's scan skips the locked rows, and after commit it skips the lease.
2. runs each leased step in its own transaction: lock the order row, check the step is still
   ours and still due, act through the orders services (as the SYSTEM role, `user=None`),
   write the timeline event and the outbox events, and mark the step done — all in one commit.

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
from django.utils.translation import gettext as _

from matching.services import rank_for_order
from notifications.events import publish, publish_each
from orders import services as order_services
from orders.errors import OrderError
from orders.models import Offer, Order, OrderEvent
from orders.payloads import event_payload, offer_payload, order_payload
from orders.states import Status
from timers.models import Step, TimerStep
from timers.sla import Sla
from volunteers.models import Area, Volunteer
from volunteers.selectors import ancestor_ids
from volunteers.services import volunteer_record_add

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
                order = Order.objects.select_related("category", "branch__area", "grid", "volunteer__user").get(
                    pk=order_id
                )
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


# --- the steps --------------------------------------------------------------------------------


def _secretary_ids(order: Order) -> list[int]:
    return list(order.branch.secretaries.values_list("id", flat=True))


def _staff_above_ids(order: Order) -> list[int]:
    """Community and street staff of the areas above the order's branch."""
    areas = ancestor_ids(order.branch.area)
    return sorted(set(Area.objects.filter(pk__in=areas).values_list("staff", flat=True)) - {None})


def _timeline(order: Order, action: str, note: str, data: dict) -> OrderEvent:
    """A system event on the order's timeline, shown live to the resident and the desk."""
    event = OrderEvent.objects.create(
        order=order, action=action, from_status=order.status, to_status=order.status, actor=None, note=note, data=data
    )
    recipients = {order.resident_id, *_secretary_ids(order)}
    if order.volunteer is not None:
        recipients.add(order.volunteer.user_id)
    publish(
        recipients=recipients,
        kind="order.updated",
        payload={"order": order_payload(order, personal=True), "event": event_payload(event)},
        order_id=order.pk,
    )
    return event


def _flag_desk(order: Order, flag: str, title: str, body: str = "", extra: list[int] | None = None) -> None:
    """Put a flag on the branch desk (and the desks above, for `extra` staff)."""
    recipients = set(_secretary_ids(order)) | set(extra or [])
    publish(
        recipients=recipients,
        kind="desk.flag",
        payload={"order": order.pk, "branch": order.branch_id, "flag": flag},
        order_id=order.pk,
        notify=(title, body),
    )


def _escalate(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    minutes = sla.minutes(order.branch_id, "review")
    not_yet = Q(escalated_at__isnull=True) | Q(escalated_at__lt=step.anchor)
    won = Order.objects.filter(not_yet, pk=order.pk, status=Status.SUBMITTED).update(escalated_at=now, updated_at=now)
    if won != 1:
        return LOST
    order.escalated_at = now
    staff = _staff_above_ids(order)
    note = _("Not reviewed within %(minutes)d minutes: escalated to community staff.") % {"minutes": minutes}
    event = _timeline(order, "escalate", note, {"minutes": minutes, "staff": len(staff)})
    title = _("Escalated: request #%(id)d (%(category)s) not reviewed in time") % {
        "id": order.pk,
        "category": order.category.name,
    }
    body = _("Branch %(branch)s has not reviewed it within %(minutes)d minutes.") % {
        "branch": order.branch.name,
        "minutes": minutes,
    }
    # Staff get the order itself (they may see it in full) and, through the notification, an email.
    publish(
        recipients=staff,
        kind="order.escalated",
        payload={"order": order_payload(order, personal=True), "event": event_payload(event)},
        order_id=order.pk,
        notify=(title, body),
    )
    _flag_desk(order, "escalated", title, body)
    publish(
        recipients=[order.resident_id],
        kind="order.notice",
        payload={"order": order.pk, "action": "escalate", "status": order.status},
        order_id=order.pk,
        notify=(_("Your request is taking longer than it should; community staff have been asked to help."), ""),
    )
    return FIRED


def _offer_more(order: Order, ranked: list, mode: str, now: datetime, expires_at: datetime) -> list[int]:
    """Offer a dispatched order to more volunteers (the order row is locked by the caller)."""
    volunteers = Volunteer.objects.select_related("user").in_bulk([r.volunteer_id for r in ranked])
    offers = Offer.objects.bulk_create(
        [
            Offer(
                order=order,
                volunteer=volunteers[r.volunteer_id],
                mode=mode,
                rank=position,
                distance_m=int(round(r.distance_m / 100.0) * 100),
                expires_at=expires_at,
            )
            for position, r in enumerate(ranked, start=1)
        ]
    )
    # They count from the step's clock, like everything else the step does.
    Offer.objects.filter(pk__in=[o.pk for o in offers]).update(created_at=now)
    for offer in offers:
        offer.order = order
        offer.created_at = now
    # Each volunteer's payload carries their own offer id and distance: one INSERT for all.
    publish_each(
        kind="offer.new",
        items=[(offer.volunteer.user_id, offer_payload(offer)) for offer in offers],
        order_id=order.pk,
        notify=(_("New request near you: %(category)s") % {"category": order.category.name}, ""),
    )
    return [r.volunteer_id for r in ranked]


def _widen(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    minutes = sla.minutes(order.branch_id, "offer")
    lapsed = Offer.objects.filter(order=order, status=Offer.Status.OPEN)
    lapsed_volunteers = list(lapsed.values_list("volunteer_id", "volunteer__user_id"))
    # EXPIRED, like DECLINED, keeps the volunteer from being offered this order again.
    lapsed.update(status=Offer.Status.EXPIRED, closed_at=now)
    for volunteer_id in sorted({vid for vid, _uid in lapsed_volunteers}):  # in id order: no lock cycle
        volunteer_record_add(volunteer_id=volunteer_id, dropped=1)
    publish(
        recipients=[uid for _vid, uid in lapsed_volunteers],
        kind="offer.withdrawn",
        payload={"order": order.pk, "reason": "expired"},
        order_id=order.pk,
    )
    earlier = TimerStep.objects.filter(
        order=order, step=Step.OFFER_WIDEN, state=TimerStep.State.DONE, anchor__gte=order.dispatched_at
    ).count()
    level = earlier + 1
    refused = set(
        Offer.objects.filter(order=order, status__in=[Offer.Status.DECLINED, Offer.Status.EXPIRED]).values_list(
            "volunteer_id", flat=True
        )
    )
    if level == 1:
        # First widening: the next ranked, as many as just let it lapse.
        mode = Order.DispatchMode.DIRECT if len(lapsed_volunteers) <= 1 else Order.DispatchMode.POOL
        ranked = rank_for_order(order, limit=max(1, len(lapsed_volunteers)), exclude=refused)
    else:
        mode = Order.DispatchMode.BROADCAST
        ranked = rank_for_order(order, limit=settings.SANDAN_TIMERS["BROADCAST_LIMIT"], exclude=refused)
    if not ranked:
        try:
            with transaction.atomic():
                order_services.order_recall(
                    order_id=order.pk,
                    user=None,
                    reason=_("Nobody took the request within %(minutes)d minutes; back to the desk.")
                    % {"minutes": minutes},
                )
        except OrderError:
            return LOST
        _flag_desk(
            order,
            "no_volunteer",
            _("Request #%(id)d is back on your desk: no volunteer took it.") % {"id": order.pk},
        )
        return FIRED
    offered = _offer_more(order, ranked, mode, now, now + timedelta(minutes=minutes))
    note = (
        _("Nobody claimed it within %(minutes)d minutes: offered to the next volunteers.")
        if mode != Order.DispatchMode.BROADCAST
        else _("Nobody claimed it within %(minutes)d minutes: offered to every available volunteer.")
    ) % {"minutes": minutes}
    data = {"level": level, "mode": mode, "expired": [vid for vid, _uid in lapsed_volunteers], "offered": offered}
    _timeline(order, "widen", note, data)
    _flag_desk(order, "offer_widened", _("Request #%(id)d: offer widened") % {"id": order.pk}, note)
    return FIRED


def _remind(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    minutes = sla.minutes(order.branch_id, "start")
    note = _("Not started within %(minutes)d minutes; reminder sent.") % {"minutes": minutes}
    _timeline(order, "remind", note, {"minutes": minutes})
    assert order.volunteer is not None
    release_at = (order.claimed_at or now) + timedelta(minutes=2 * minutes)
    publish(
        recipients=[order.volunteer.user_id],
        kind="order.reminder",
        payload={"order": order.pk, "release_at": release_at.isoformat()},
        order_id=order.pk,
        notify=(
            _("Please start request #%(id)d") % {"id": order.pk},
            _("If it is not started within %(minutes)d minutes it will be offered to someone else.")
            % {"minutes": minutes},
        ),
    )
    return FIRED


def _release(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    minutes = sla.minutes(order.branch_id, "start")
    assert order.volunteer is not None
    volunteer_user = order.volunteer.user_id
    try:
        with transaction.atomic():
            order_services.order_release(
                order_id=order.pk,
                user=None,
                reason=_("Not started within %(minutes)d minutes; released automatically.") % {"minutes": 2 * minutes},
            )
    except OrderError:
        return LOST
    # The re-offers the release cascaded into count from the step's clock too.
    Offer.objects.filter(order=order, status=Offer.Status.OPEN).update(created_at=now)
    publish(
        recipients=[volunteer_user],
        kind="order.notice",
        payload={"order": order.pk, "action": "release", "status": Status.DISPATCHED},
        order_id=order.pk,
        notify=(_("Request #%(id)d was given to someone else: it was not started in time.") % {"id": order.pk}, ""),
    )
    _flag_desk(order, "auto_released", _("Request #%(id)d was released: not started in time.") % {"id": order.pk})
    return FIRED


def _close(order: Order, step: TimerStep, now: datetime, sla: Sla) -> str:
    try:
        with transaction.atomic():
            order_services.order_confirm(order_id=order.pk, user=None)
    except OrderError:
        return LOST
    publish(
        recipients=[order.resident_id],
        kind="order.notice",
        payload={"order": order.pk, "action": "confirm", "status": Status.CLOSED},
        order_id=order.pk,
        notify=(
            _("Your request #%(id)d was closed automatically.") % {"id": order.pk},
            _("You can still reopen it for a while if the help was not done."),
        ),
    )
    return FIRED


_FIRE: dict[str, Callable[[Order, TimerStep, datetime, Sla], str]] = {
    Step.REVIEW_ESCALATE: _escalate,
    Step.OFFER_WIDEN: _widen,
    Step.CLAIM_REMIND: _remind,
    Step.CLAIM_RELEASE: _release,
    Step.CONFIRM_CLOSE: _close,
}
