"""What the desk's lists show, on top of `web.selectors`: the most pressing first (urgent and
overdue before the rest), and for dispatched orders who holds the offer and for how long."""

from __future__ import annotations

from orders.models import Order
from orders.states import Status
from web import selectors
from web.offers import offer_summaries

URGENCY_RANK: dict[str, int] = {
    Order.Urgency.URGENT: 0,
    Order.Urgency.HIGH: 1,
    Order.Urgency.NORMAL: 2,
    Order.Urgency.LOW: 3,
}


def to_call(order: Order) -> bool:
    """A "call me back" nobody has answered yet: someone at the desk picks up the phone first."""
    return order.kind == Order.Kind.CALLBACK and order.status == Status.SUBMITTED


def pressing_first(rows: list[Order]) -> list[Order]:
    """Residents waiting for a call lead; then urgent and overdue orders; among them the more
    urgent, then the overdue, then the one that has waited longest. Rows carry their `clock`
    (`selectors.with_clocks`)."""

    def key(order: Order) -> tuple[int, int, int, int, int]:
        clock = getattr(order, "clock", None)
        overdue = bool(clock and clock.overdue)
        urgency = URGENCY_RANK.get(order.urgency, 2)
        pressing = overdue or urgency == 0
        waited = -(clock.minutes if clock else 0)
        return (0 if to_call(order) else 1, 0 if pressing else 1, urgency, 0 if overdue else 1, waited)

    return sorted(rows, key=key)


def desk_queue(user, *, branch_id: int | None = None) -> list[Order]:
    return pressing_first(selectors.desk_queue(user, branch_id=branch_id))


def desk_board(user, *, branch_id: int | None = None) -> list[Order]:
    rows = pressing_first(selectors.desk_board(user, branch_id=branch_id))
    summaries = offer_summaries(o for o in rows if o.status == "dispatched")
    for order in rows:
        order.offer_summary = summaries.get(order.pk)  # type: ignore[attr-defined]  # read by the template
    return rows
