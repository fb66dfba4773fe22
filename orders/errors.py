"""Domain errors of the order lifecycle. Each carries the HTTP status and the machine-readable
`code` the API and the WebSocket report; none carries personal data."""

from __future__ import annotations

from typing import Any


class OrderError(Exception):
    status_code = 409
    code = "conflict"
    default_message = "The order cannot do that now."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None) -> None:
        self.message = message or self.default_message
        self.fields = fields
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.message}
        if self.fields:
            body.update(self.fields)
        return body


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


class NotPermitted(OrderError):
    status_code = 403
    code = "not_permitted"
    default_message = "You may not take this action on this order."


class OrderNotFound(OrderError):
    status_code = 404
    code = "not_found"
    default_message = "No such order."


class InvalidInput(OrderError):
    """Input that passed the serializer but fails a rule that needs the database."""

    status_code = 400
    code = "invalid"
    default_message = "Invalid input."


class RateLimited(OrderError):
    """More orders than ORDER_SUBMIT_RATE allows; `retry_after` is when the next one will be taken."""

    status_code = 429
    code = "throttled"
    default_message = "You have posted as many requests as allowed for now; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(message)
