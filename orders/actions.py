"""One lifecycle action from any interface: the API's `POST /orders/{id}/{action}` and the
pages' buttons both come through `order_act`, so an action's body is parsed one way and
reaches its one service (the WebSocket's claim frame calls `order_claim` directly).

An action may carry an idempotency key (the API's `Idempotency-Key` header, the pages' `key`
field): a phone that queued a tap while it had no signal, or lost the answer, sends it again,
and the same key acts once. A retry gets the first result back (the order's state right after
the action), not "the order has moved on" from its own earlier success."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from orders.errors import OrderError, OrderNotFound
from orders.models import IdempotencyKey, Order
from orders.serializers import ACTION_BODIES
from orders.services import ACTION_SERVICES, IdempotencyConflict
from orders.states import ACTIONS


class UnknownAction(OrderNotFound):
    default_message = "Unknown action."


@dataclass(frozen=True)
class ActionResult:
    order: Order
    # The order's state right after the action, as the first call saw it (a replay says the
    # same even if the order has moved on since).
    status: str
    replayed: bool = False


def order_act(
    *, order_id: int, user, action: str, data: Mapping[str, Any], idempotency_key: str | None = None
) -> ActionResult:
    """Parse `data` as the body of `action` (a DRF ValidationError, 400, when it does not
    parse) and run the action's service, which decides everything else.

    With `idempotency_key`, the action and the key are recorded in one transaction: a second
    call with the key returns the first result and acts no more; the key reused for another
    order, action or body is refused (409 `idempotency_key_reused`). A refused action records
    nothing, so its retry is decided afresh."""
    if action not in ACTIONS:
        raise UnknownAction()
    body = ACTION_BODIES[action](data=data)
    body.is_valid(raise_exception=True)
    params = dict(body.validated_data)
    if not idempotency_key:
        order = ACTION_SERVICES[action](order_id=order_id, user=user, **params)
        return ActionResult(order=order, status=order.status)
    fingerprint = _fingerprint(order_id, action, params)
    hit = _replay(user, idempotency_key, fingerprint)
    if hit is not None:
        return hit
    try:
        with transaction.atomic():
            order = ACTION_SERVICES[action](order_id=order_id, user=user, **params)
            IdempotencyKey.objects.create(
                user=user,
                key=idempotency_key,
                request_hash=fingerprint,
                order=order,
                action=action,
                result={"status": order.status},
            )
    except (OrderError, IntegrityError):
        # The same key sent twice at once (a page and its service worker both back online):
        # the loser's action fails against the state the winner left, or its key row collides.
        # Either way the winner's result is the answer.
        hit = _replay(user, idempotency_key, fingerprint)
        if hit is not None:
            return hit
        raise
    return ActionResult(order=order, status=order.status)


def _fingerprint(order_id: int, action: str, params: Mapping[str, Any]) -> str:
    raw = json.dumps({"order": order_id, "action": action, "body": params}, default=str, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(user, key: str, fingerprint: str) -> ActionResult | None:
    record = IdempotencyKey.objects.filter(user=user, key=key).select_related("order").first()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyConflict()
    return ActionResult(order=record.order, status=str(record.result.get("status", "")), replayed=True)
