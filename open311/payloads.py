"""What each GeoReport v2 resource says, as plain dicts in the spec's element order.

Privacy (docs/open311.md): these payloads are public. They never carry the resident's name,
phone, e-mail or exact address. The location is the grid's name and the coordinates rounded
to PRECISION decimals; free text (the description, the timeline note) is masked for the
resident's own details and for anything shaped like a phone number or an e-mail address, by
the same `orders.privacy.mask` that every other viewer without access to them gets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from open311.models import ServiceAttribute
from open311.selectors import OPEN
from orders.models import Category, Order
from orders.privacy import mask
from orders.states import Status
from volunteers.models import Area

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ["text/xml", "application/json"]
# 3 decimals of a degree: about 111 m north-south and 95 m east-west at Shanghai's latitude.
PRECISION = 3
# When the service list last changed in code; attribute edits in the admin move it on.
CHANGESET = "2026-11-26T00:00:00+08:00"
# Without a preferred window, the fulfilment expected by urgency (hours after submission).
EXPECTED_HOURS = {"urgent": 4, "high": 24, "normal": 72, "low": 168}

# Why an order is where it is, in words a 311 client can show.
_NOTICES = {
    Status.SUBMITTED: lambda: _("Waiting for the community branch to review the request."),
    Status.ACCEPTED: lambda: _("Accepted by the branch; a volunteer will be sent."),
    Status.DISPATCHED: lambda: _("Offered to volunteers nearby."),
    Status.CLAIMED: lambda: _("A volunteer has taken the request."),
    Status.IN_PROGRESS: lambda: _("A volunteer is working on the request."),
    Status.COMPLETED: lambda: _("Done by a volunteer; waiting for the resident's confirmation."),
    Status.CLOSED: lambda: _("Done and confirmed by the resident."),
    Status.REJECTED: lambda: _("The branch could not take the request on."),
    Status.CANCELLED: lambda: _("The request was cancelled."),
    Status.MERGED: lambda: _("The same need was already reported nearby: the request was merged into that one."),
}


def w3(moment: datetime | None) -> str | None:
    """ISO 8601 with the offset, in the service's time zone (Asia/Shanghai)."""
    if moment is None:
        return None
    return timezone.localtime(moment).isoformat(timespec="seconds")


def open311_status(status: str) -> str:
    return "open" if status in OPEN else "closed"


def service_notice(status: str) -> str:
    return _NOTICES[Status(status)]()


def expected_at(order: Order) -> datetime:
    if order.window_end is not None:
        return order.window_end
    hours = getattr(settings, "OPEN311_EXPECTED_HOURS", EXPECTED_HOURS)
    return order.created_at + timedelta(hours=hours.get(order.urgency, EXPECTED_HOURS["normal"]))


def updated_at(order: Order) -> datetime:
    # The spec: for a closed request, the time it was closed.
    if order.status == Status.CLOSED and order.closed_at:
        return order.closed_at
    if order.status == Status.COMPLETED and order.completed_at:
        return order.completed_at
    return order.updated_at


def area_name(order: Order) -> str:
    """Most specific to most general, as the spec asks of an address: grid, community, street."""
    node: Area | None = order.grid or order.branch.area
    names: list[str] = []
    while node is not None and len(names) < 3:
        names.append(node.name)
        node = node.parent
    return ", ".join(names)


def request_payload(order: Order, request: HttpRequest) -> dict[str, Any]:
    token = getattr(order, "photo_token", None)
    return {
        "service_request_id": order.pk,
        "status": open311_status(order.status),
        "status_notes": mask(getattr(order, "last_note", None), order),
        "service_name": order.category.name,
        "service_code": order.category.code,
        "description": mask(order.description, order),
        "agency_responsible": order.branch.name,
        "service_notice": service_notice(order.status),
        "requested_datetime": w3(order.created_at),
        "updated_datetime": w3(updated_at(order)),
        "expected_datetime": w3(expected_at(order)),
        "address": area_name(order),
        "address_id": None,
        "zipcode": None,
        "lat": round(order.lat, PRECISION),
        "long": round(order.lng, PRECISION),
        # An authorised view: it answers only the resident, the branch's desk and the volunteer.
        "media_url": request.build_absolute_uri(reverse("attachment", args=[token])) if token else None,
    }


def filed_payload(order: Order) -> dict[str, Any]:
    return {
        "service_request_id": order.pk,
        "service_notice": service_notice(order.status),
        "account_id": str(order.resident_id),
    }


def service_payload(category: Category) -> dict[str, Any]:
    keywords = [category.name_en] + [skill.name for skill in category.skills.all()]
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description or category.name_en or category.name,
        "metadata": bool(getattr(category, "has_attributes", False)),
        "type": "realtime",
        "keywords": ", ".join(k for k in keywords if k),
        "group": category.group,
    }


def attribute_payload(attribute: ServiceAttribute) -> dict[str, Any]:
    return {
        "variable": attribute.variable,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "datatype_description": attribute.datatype_description or None,
        "order": attribute.order,
        "description": attribute.description,
        "values": [{"key": v["key"], "name": v["name"]} for v in attribute.values or []],
    }


def definition_payload(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "attributes": [attribute_payload(a) for a in category.open311_attributes.all()],
    }


def discovery_payload(request: HttpRequest, changeset: datetime | None) -> dict[str, Any]:
    stamp = w3(changeset) or getattr(settings, "OPEN311_CHANGESET", CHANGESET)
    return {
        "changeset": stamp,
        "contact": getattr(settings, "OPEN311_CONTACT", "") or _("Ask the Sandan operators of your city."),
        "key_service": _("API keys are issued by the Sandan administrators, who register each client in the admin."),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                # As in the spec's example, without a trailing slash: resources are url + "/services.xml".
                "url": request.build_absolute_uri(reverse("open311:root")).rstrip("/"),
                "changeset": stamp,
                "type": "test" if settings.DEBUG else "production",
                "formats": FORMATS,
            }
        ],
    }
