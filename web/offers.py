"""Who holds an offer, for the desk: each offered volunteer with the state of their offer
(open, declined, lapsed…), and the time left before the timers widen the offer.

The offer period is the SLA timers' own (`orders.sla.Sla.minutes(branch, "offer")`), counted
from the newest open offer as the timers count it, so the desk and the worker agree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from django.db.models import Prefetch
from django.utils import timezone

from orders.models import Offer, Order
from orders.sla import Sla
from orders.states import Status


@dataclass(frozen=True)
class OfferRow:
    volunteer: str
    state: str  # Offer.Status: open, claimed, declined, withdrawn, expired (lapsed)
    offered_at: datetime
    closed_at: datetime | None
    rank: int | None


@dataclass
class OfferSummary:
    rows: list[OfferRow] = field(default_factory=list)
    # When the open offers widen (the timers offer the order to more volunteers), if any is open.
    widens_at: datetime | None = None
    minutes: int = 0  # the offer period of the order's branch

    def count(self, state: str) -> int:
        return sum(1 for row in self.rows if row.state == state)

    # Read several times per row by the desk's board; a summary is complete once built.
    @cached_property
    def open(self) -> int:
        return self.count(Offer.Status.OPEN)

    @cached_property
    def declined(self) -> int:
        return self.count(Offer.Status.DECLINED)

    @cached_property
    def lapsed(self) -> int:
        return self.count(Offer.Status.EXPIRED)

    def minutes_left(self, now: datetime | None = None) -> int | None:
        if self.widens_at is None:
            return None
        left = (self.widens_at - (now or timezone.now())) / timedelta(minutes=1)
        return max(0, int(left + 0.999))  # "1 min left" until it is really due


def _offers() -> Prefetch:
    return Prefetch(
        "offers",
        queryset=Offer.objects.select_related("volunteer__user").order_by("created_at", "rank", "id"),
        to_attr="desk_offers",
    )


def offer_summaries(orders: Iterable[Order], *, sla: Sla | None = None) -> dict[int, OfferSummary]:
    """The offers of each order since its last dispatch, in two queries for any number of
    orders (the offers with their volunteers, and the branches' SLA overrides)."""
    rows = [o for o in orders if o.dispatched_at is not None]
    if not rows:
        return {}
    from django.db.models import prefetch_related_objects

    prefetch_related_objects(rows, _offers())
    table = sla or Sla.for_request()
    out: dict[int, OfferSummary] = {}
    for order in rows:
        summary = OfferSummary(minutes=table.minutes(order.branch_id, "offer"))
        # A recall and a new dispatch start afresh: offers from before the last dispatch are history.
        since = order.dispatched_at - timedelta(seconds=1) if order.dispatched_at else None
        newest_open = None
        for offer in getattr(order, "desk_offers", []):
            if since is not None and offer.created_at < since and offer.status != Offer.Status.OPEN:
                continue
            summary.rows.append(
                OfferRow(
                    volunteer=str(offer.volunteer.user),
                    state=offer.status,
                    offered_at=offer.created_at,
                    closed_at=offer.closed_at,
                    rank=offer.rank,
                )
            )
            if offer.status == Offer.Status.OPEN and (newest_open is None or offer.created_at > newest_open):
                newest_open = offer.created_at
        if order.status == Status.DISPATCHED and newest_open is not None:
            summary.widens_at = newest_open + timedelta(minutes=summary.minutes)
        out[order.pk] = summary
    return out


def offer_summary(order: Order) -> OfferSummary | None:
    return offer_summaries([order]).get(order.pk)
