"""Time-bank errors. They reuse the order errors' shape (`code`, `detail`, HTTP status) so
the API's one exception handler renders them."""

from __future__ import annotations

from core.errors import ServiceError


class InsufficientBalance(ServiceError):
    code = "insufficient_balance"
    default_message = "Not enough hours in the time bank."


class OutOfStock(ServiceError):
    code = "out_of_stock"
    default_message = "This item is no longer available."


class ItemNotFound(ServiceError):
    status_code = 404
    code = "not_found"
    default_message = "No such item."
