"""The shapes events carry, per audience. The REST serializers give the same field names.

`personal=False` leaves the resident's phone and exact address out entirely: an offer shows
the area name and the distance rounded to 100 m, nothing more, and its description masked
(`orders.privacy`) (docs/design.md, "Events and privacy").
"""

from __future__ import annotations

from typing import Any

from orders.models import Offer, Order, OrderEvent
from orders.privacy import public_description, shown_actor, shown_text


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def event_payload(event: OrderEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "action": event.action,
        "from": event.from_status or None,
        "to": event.to_status,
        "actor": str(event.actor) if event.actor_id else None,
        "note": event.note,
        "at": _iso(event.at),
    }


def public_event_payload(event: OrderEvent, order: Order) -> dict[str, Any]:
    """A timeline step as someone without the personal data sees it (a follower): the note
    masked, the resident named only as "Resident"."""
    return {
        **event_payload(event),
        "actor": shown_actor(event, order, personal=False),
        "note": shown_text(event.note, order, personal=False) or "",
    }


def public_order_payload(order: Order) -> dict[str, Any]:
    """An order as a follower sees it: no address, phone or point, its description masked."""
    return {**order_payload(order, personal=False), "description": public_description(order)}


def order_payload(order: Order, *, personal: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": order.pk,
        "status": order.status,
        "category": order.category.code,
        "description": order.description,
        "urgency": order.urgency,
        "kind": order.kind,
        "branch": order.branch_id,
        "volunteer": order.volunteer_id,
        "area": order.grid.name if order.grid is not None else None,
        "created_at": _iso(order.created_at),
    }
    if personal:
        data.update(address=order.address, contact_phone=order.contact_phone, lat=order.lat, lng=order.lng)
    return data


def offer_payload(offer: Offer) -> dict[str, Any]:
    order = offer.order
    return {
        "offer": offer.pk,
        "order": order.pk,
        "category": order.category.code,
        "category_name": order.category.name,
        "description": public_description(order),
        "urgency": order.urgency,
        "area": order.grid.name if order.grid is not None else None,
        "distance_m": offer.distance_m,
        "window_start": _iso(order.window_start),
        "window_end": _iso(order.window_end),
        "mode": offer.mode,
        "expires_at": _iso(offer.expires_at),
    }
