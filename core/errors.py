"""The error every service raises when it refuses: an HTTP status, a machine-readable `code`
and, for invalid input, messages per field. The API, the pages and the WebSocket render any
of them the same way; none carries personal data."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
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


class NotPermitted(ServiceError):
    status_code = 403
    code = "not_permitted"
    default_message = "You may not take this action on this order."


class InvalidInput(ServiceError):
    """Input that passed the parser but fails a rule (often one that needs the database)."""

    status_code = 400
    code = "invalid"
    default_message = "Invalid input."
