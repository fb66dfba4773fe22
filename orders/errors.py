"""The errors of the order lifecycle, on the shared `core.errors.ServiceError`: each carries the
HTTP status and the machine-readable `code` the API and the WebSocket report."""

from __future__ import annotations

from core.errors import InvalidInput, NotPermitted, ServiceError

__all__ = [
    "AlreadyClaimed",
    "CapacityReached",
    "InvalidInput",
    "InvalidTransition",
    "NoCandidates",
    "NotPermitted",
    "OrderError",
    "OrderNotFound",
    "RateLimited",
    "ServiceError",
]


# Every service error is one: the name orders' callers have always caught.
OrderError = ServiceError


class InvalidTransition(OrderError):
    code = "invalid_transition"
    default_message = "This action is not possible in the order's current state."


class AlreadyClaimed(OrderError):
    code = "already_claimed"
    default_message = "Another volunteer has already claimed this order."


class CapacityReached(OrderError):
    code = "capacity_reached"
    default_message = "You already hold as many orders as your capacity allows."


class NoCandidates(OrderError):
    code = "no_candidates"
    default_message = "No volunteer is available for this dispatch."


class OrderNotFound(OrderError):
    status_code = 404
    code = "not_found"
    default_message = "No such order."


class RateLimited(OrderError):
    """More orders than ORDER_SUBMIT_RATE allows; `retry_after` is when the next one will be taken."""

    status_code = 429
    code = "throttled"
    default_message = "You have posted as many requests as allowed for now; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)
