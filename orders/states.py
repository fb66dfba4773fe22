"""The order lifecycle as a small table (docs/design.md, "The lifecycle").

Pure Python: no Django import, so the table can be read, tested and reused on its own.
Each action names the states it may start from, the state it leads to and the roles that
may take it. `orders.services` enforces the table with conditional UPDATEs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    DISPATCHED = "dispatched"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    # Closed as a duplicate of another order (`order_merge`): its resident follows that one.
    MERGED = "merged"


class Role(StrEnum):
    """A caller's relation to one order (not a global flag on the user)."""

    RESIDENT = "resident"  # the order's resident
    SECRETARY = "secretary"  # a secretary of the branch the order is routed to
    STAFF = "staff"  # community / street staff of an area above that branch
    OFFERED = "offered"  # a volunteer with an open offer for the order
    ASSIGNED = "assigned"  # the volunteer who holds the order
    SYSTEM = "system"  # timers and auto-dispatch
    # Follows the order ("this is mine too", or their own request merged into it): reads its
    # public timeline and hears of its steps, never its resident's personal data.
    FOLLOWER = "follower"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[Status]
    target: Status
    roles: frozenset[Role]


def _t(action: str, sources: set[Status], target: Status, roles: set[Role]) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(roles))


S = Status
R = Role
# Staff may do whatever the secretary of a branch below them may: they handle escalations.
DESK = {R.SECRETARY, R.STAFF}

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        _t("accept", {S.SUBMITTED}, S.ACCEPTED, DESK),
        _t("reject", {S.SUBMITTED}, S.REJECTED, DESK),
        _t("transfer", {S.SUBMITTED, S.ACCEPTED}, S.SUBMITTED, DESK),
        _t("cancel", {S.SUBMITTED, S.ACCEPTED}, S.CANCELLED, {R.RESIDENT} | DESK),
        _t("dispatch", {S.ACCEPTED}, S.DISPATCHED, DESK | {R.SYSTEM}),
        _t("claim", {S.DISPATCHED}, S.CLAIMED, {R.OFFERED}),
        _t("decline", {S.DISPATCHED}, S.DISPATCHED, {R.OFFERED}),
        _t("recall", {S.DISPATCHED}, S.ACCEPTED, DESK | {R.SYSTEM}),
        _t("release", {S.CLAIMED}, S.DISPATCHED, {R.ASSIGNED, R.SYSTEM}),
        _t("start", {S.CLAIMED}, S.IN_PROGRESS, {R.ASSIGNED}),
        _t("complete", {S.IN_PROGRESS}, S.COMPLETED, {R.ASSIGNED}),
        _t("confirm", {S.COMPLETED}, S.CLOSED, {R.RESIDENT, R.SYSTEM}),
        _t("reopen", {S.COMPLETED, S.CLOSED}, S.ACCEPTED, {R.RESIDENT} | DESK),
        # Only before a volunteer is involved: a duplicate is caught at review (docs/decisions.md).
        _t("merge", {S.SUBMITTED, S.ACCEPTED}, S.MERGED, DESK),
    ]
}

ACTIONS: tuple[str, ...] = tuple(TRANSITIONS)

# A volunteer holds an order in these states; they count against the volunteer's capacity.
HELD = frozenset({S.CLAIMED, S.IN_PROGRESS})
# States that must name a volunteer (backed by a database constraint).
WITH_VOLUNTEER = frozenset({S.CLAIMED, S.IN_PROGRESS, S.COMPLETED, S.CLOSED})
# Nothing more happens to an order in these states (closed may still be reopened for a while).
FINAL = frozenset({S.REJECTED, S.CANCELLED, S.CLOSED, S.MERGED})
# Open = still waiting for someone (used by the figures and the desk).
OPEN = frozenset({S.SUBMITTED, S.ACCEPTED, S.DISPATCHED, S.CLAIMED, S.IN_PROGRESS})


def transition_for(action: str) -> Transition:
    return TRANSITIONS[action]


def allowed_from(action: str, status: str) -> bool:
    return Status(status) in TRANSITIONS[action].sources


def may(action: str, roles: set[Role] | frozenset[Role]) -> bool:
    return bool(TRANSITIONS[action].roles & set(roles))
