"""One lifecycle action from any interface: the API's `POST /orders/{id}/{action}` and the
pages' buttons both come through `order_act`, so an action's body is parsed one way and
reaches its one service (the WebSocket's claim frame calls `order_claim` directly)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orders.errors import OrderNotFound
from orders.models import Order
from orders.serializers import ACTION_BODIES
from orders.services import ACTION_SERVICES
from orders.states import ACTIONS


class UnknownAction(OrderNotFound):
    default_message = "Unknown action."


def order_act(*, order_id: int, user, action: str, data: Mapping[str, Any]) -> Order:
    """Parse `data` as the body of `action` (a DRF ValidationError, 400, when it does not
    parse) and run the action's service, which decides everything else."""
    if action not in ACTIONS:
        raise UnknownAction()
    body = ACTION_BODIES[action](data=data)
    body.is_valid(raise_exception=True)
    return ACTION_SERVICES[action](order_id=order_id, user=user, **body.validated_data)
