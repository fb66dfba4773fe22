"""What the desk's lists show, on top of `web.selectors`: the most pressing first (urgent and
overdue before the rest), and for dispatched orders who holds the offer and for how long."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, TypeVar

from orders.models import Order
from orders.states import Status
from web import selectors
from web.offers import offer_summaries

T = TypeVar("T", Order, SimpleNamespace)

URGENCY_RANK: dict[str, int] = {
    Order.Urgency.URGENT: 0,
    Order.Urgency.HIGH: 1,
    Order.Urgency.NORMAL: 2,
    Order.Urgency.LOW: 3,
}


def to_call(order: Order | SimpleNamespace) -> bool:
    """A "call me back" nobody has answered yet: someone at the desk picks up the phone first."""
    return order.kind == Order.Kind.CALLBACK and order.status == Status.SUBMITTED


def pressing_first(rows: list[T]) -> list[T]:
    """Residents waiting for a call lead; then urgent and overdue orders; among them the more
    urgent, then the overdue, then the one that has waited longest. Rows carry their `clock`
    (`selectors.with_clocks`, or the panels' sort keys)."""

    def key(order: T) -> tuple[int, int, int, int, int]:
        clock = getattr(order, "clock", None)
        overdue = bool(clock and clock.overdue)
        urgency = URGENCY_RANK.get(order.urgency, 2)
        pressing = overdue or urgency == 0
        waited = -(clock.minutes if clock else 0)
        return (0 if to_call(order) else 1, 0 if pressing else 1, urgency, 0 if overdue else 1, waited)

    return sorted(rows, key=key)


# The orders a panel shows at once. Rendering every open order (up to 200 queued and 500 in
# flight) cost the desk page 40–45 ms of CPU on the HTTP bench's city, most of it in the
# template; the most pressing page is what a secretary acts on, the rest is a link away
# ("show all", or the filtered list at /desk/orders/).
PAGE_SIZE = 50


def desk_queue(user, *, branch_id: int | None = None, everything: bool = False) -> dict[str, Any]:
    """The queue panel's context: its most pressing page, how many wait in all, and every
    waiting order's id (the page's script tells a new one by its id, shown or not)."""
    panel = selectors.desk_queue(user, branch_id=branch_id)
    panel.keys = pressing_first(panel.keys)
    rows = panel.page(None if everything else PAGE_SIZE)
    ids = " ".join(str(key.pk) for key in panel.keys)
    return {
        "queue": rows,
        "queue_total": panel.total,
        "queue_ids": ids,
        # live.js keeps the panel as it is while this is unchanged; built here, not by the
        # template (a loop of lookups per row was a fifth of rendering the panel).
        "queue_version": ids + "|" + "".join(f"{o.pk}-{o.clock.minutes}," for o in rows),  # type: ignore[attr-defined]
    }


def desk_board(user, *, branch_id: int | None = None, everything: bool = False) -> dict[str, Any]:
    """The board panel's context: its most pressing page with who holds each offer, and how
    many orders are in flight in all."""
    panel = selectors.desk_board(user, branch_id=branch_id)
    panel.keys = pressing_first(panel.keys)
    rows = panel.page(None if everything else PAGE_SIZE)
    summaries = offer_summaries(o for o in rows if o.status == "dispatched")
    version = [f"{panel.total}|"]
    for order in rows:
        summary = order.offer_summary = summaries.get(order.pk)  # type: ignore[attr-defined]  # read by the template
        counts = (summary.open, summary.declined, summary.lapsed) if summary else ("", "", "")
        version.append(f"{order.pk}-{order.status}-{order.clock.overdue}-{counts[0]}-{counts[1]}-{counts[2]},")  # type: ignore[attr-defined]
    return {"board": rows, "board_total": panel.total, "board_version": "".join(version)}
