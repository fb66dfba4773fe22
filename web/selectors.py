"""Reads the pages need beyond `orders.selectors`: the desk's queue and board, what is
overdue, a volunteer's tasks and hours. Every read is scoped through `orders.selectors`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from types import SimpleNamespace
from typing import Any

from django.db.models import QuerySet, Sum
from django.urls import Resolver404, resolve
from django.utils import timezone

from orders.models import Order
from orders.selectors import order_list
from orders.sla import Clock, Sla
from orders.sla import clock_for as sla_clock_for
from orders.states import HELD, Status
from volunteers.models import Area, Branch, Volunteer
from volunteers.selectors import desk_branch_ids

IN_FLIGHT = [Status.ACCEPTED, Status.DISPATCHED, Status.CLAIMED, Status.IN_PROGRESS]


def clock_for(order: Order, now: datetime | None = None) -> Clock | None:
    """How long the order has waited in its current state, against that state's SLA."""
    return sla_clock_for(order, now)


def with_clocks(orders) -> list[Order]:
    now = timezone.now()
    rows = list(orders)
    sla = Sla.for_request()  # one read of the overrides for the whole list (and the page)
    for order in rows:
        order.clock = sla_clock_for(order, now, sla=sla)  # type: ignore[attr-defined]  # read by the templates
    return rows


def desk_branches(user) -> QuerySet[Branch]:
    return Branch.objects.filter(pk__in=desk_branch_ids(user)).select_related("area").order_by("name")


def desk_orders(user, *, branch_id: int | None = None) -> QuerySet[Order]:
    qs = order_list(user, role="desk").select_related("branch__area", "grid")
    if branch_id is not None:
        qs = qs.filter(branch_id=branch_id)
    return qs


# What the desk's panels sort and filter by: a clock needs the state's timestamp, the order
# needs kind and urgency. Read as plain values, so that a panel of hundreds of orders costs
# no model instances; only the rows shown are read whole (`Panel.page`).
_KEY_FIELDS = (
    "pk",
    "kind",
    "status",
    "urgency",
    "branch_id",
    "created_at",
    "updated_at",
    "reviewed_at",
    "dispatched_at",
    "claimed_at",
    "started_at",
    "escalated_at",
)
QUEUE_CAP = 200
BOARD_CAP = 500


@dataclass
class Panel:
    """The orders of one desk panel in the order shown, as sort keys (`pk`, `kind`, `status`,
    `urgency`, `clock`…), and how many there are in all."""

    keys: list[SimpleNamespace]
    source: QuerySet[Order]
    cap: int

    @cached_property
    def total(self) -> int:
        # Past the cap the keys are a window: count them all (one statement, only then).
        return len(self.keys) if len(self.keys) < self.cap else self.source.count()

    def page(self, limit: int | None) -> list[Order]:
        """The first `limit` orders (every one read when None), whole, with their clocks."""
        shown = self.keys if limit is None else self.keys[:limit]
        if not shown:
            return []
        # Only the relations the panels show (the scope's own joins are for the keys' read).
        whole = self.source.select_related(None).select_related("category", "branch", "grid", "volunteer__user")
        found = whole.order_by().in_bulk([k.pk for k in shown])
        rows = []
        for key in shown:
            order = found.get(key.pk)
            if order is not None:  # gone between the two reads
                order.clock = key.clock  # type: ignore[attr-defined]  # read by the templates
                rows.append(order)
        return rows


def _keys(qs: QuerySet[Order]) -> list[SimpleNamespace]:
    now = timezone.now()
    sla = Sla.for_request()
    keys = [SimpleNamespace(**row) for row in qs.values(*_KEY_FIELDS)]
    for key in keys:
        key.clock = sla_clock_for(key, now, sla=sla)  # type: ignore[arg-type]  # the fields it reads
    return keys


def desk_queue(user, *, branch_id: int | None = None) -> Panel:
    """Incoming orders, oldest first: the one that has waited longest is reviewed first."""
    source = desk_orders(user, branch_id=branch_id).filter(status=Status.SUBMITTED)
    return Panel(_keys(source.order_by("created_at", "id")[:QUEUE_CAP]), source, QUEUE_CAP)


def desk_board(user, *, branch_id: int | None = None) -> Panel:
    """Everything in flight; overdue first, then by how long it has waited."""
    source = desk_orders(user, branch_id=branch_id).filter(status__in=IN_FLIGHT)
    keys = _keys(source.order_by("updated_at", "id")[:BOARD_CAP])
    keys.sort(key=_most_overdue_first)
    return Panel(keys, source, BOARD_CAP)


def _most_overdue_first(order: Order | SimpleNamespace) -> tuple[bool, int]:
    clock: Clock | None = getattr(order, "clock", None)
    return (not (clock and clock.overdue), -(clock.minutes if clock else 0))


def desk_escalations(user, *, branch_id: int | None = None) -> list[Order]:
    """For staff: orders escalated to them or overdue anywhere below their areas."""
    open_states = [Status.SUBMITTED, *IN_FLIGHT]
    source = desk_orders(user, branch_id=branch_id).filter(status__in=open_states)
    keys = _keys(source[:BOARD_CAP])
    flagged = [k for k in keys if k.escalated_at is not None or not _most_overdue_first(k)[0]]
    flagged.sort(key=_most_overdue_first)
    return Panel(flagged, source, BOARD_CAP).page(50)


def transfer_targets(user, order: Order) -> QuerySet[Branch]:
    """Branches an order can be passed to: any other branch in the order's street."""
    area: Area | None = order.branch.area
    while area is not None and area.parent_id is not None:
        area = area.parent
    street_id = area.pk if area is not None else order.branch.area_id
    from volunteers.selectors import descendant_ids

    scope = descendant_ids([street_id]) | set(desk_branch_ids(user))
    return Branch.objects.filter(area_id__in=scope).exclude(pk=order.branch_id).order_by("name")


def volunteer_tasks(user) -> list[Order]:
    held = [s.value for s in HELD]
    return list(
        order_list(user, role="volunteer")
        .filter(volunteer__user=user, status__in=held)
        .select_related("grid")
        .order_by("claimed_at", "id")
    )


def volunteer_hours(user) -> dict[str, Any]:
    volunteer = Volunteer.objects.filter(user=user).first()
    if volunteer is None:
        return {"orders": [], "total": Decimal(0)}
    done = Order.objects.filter(volunteer=volunteer, status__in=[Status.COMPLETED, Status.CLOSED]).select_related(
        "category"
    )
    total = done.aggregate(total=Sum("hours"))["total"] or Decimal(0)
    return {"orders": list(done.order_by("-completed_at")[:100]), "total": total}


def api_route_exists(path: str, *, not_named: str | None = None) -> bool:
    """Whether another part of the service already offers `path` (e.g. the time bank)."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    if match.url_name == "api-not-found":  # the API's catch-all 404
        return False
    return not_named is None or match.url_name != not_named


def recent_minutes(order: Order) -> int:
    return int((timezone.now() - order.created_at) / timedelta(minutes=1))
