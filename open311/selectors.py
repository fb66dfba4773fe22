"""Reads behind the GeoReport v2 endpoints. Each list is answered in a fixed number of
queries: the last timeline note and the first photo ride along as subqueries."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from open311.models import ServiceAttribute
from open311.params import MAX_RESULTS, Query
from orders.models import Attachment, Category, Order, OrderEvent
from orders.states import Status

# GeoReport knows two statuses. `completed` counts as closed: the volunteer has done the
# work and only the resident's confirmation is outstanding; a reopen makes it open again.
OPEN = (Status.SUBMITTED, Status.ACCEPTED, Status.DISPATCHED, Status.CLAIMED, Status.IN_PROGRESS)
CLOSED = (Status.COMPLETED, Status.CLOSED, Status.REJECTED, Status.CANCELLED, Status.MERGED)
BY_OPEN311_STATUS = {"open": OPEN, "closed": CLOSED}


def service_list() -> QuerySet[Category]:
    return (
        Category.objects.filter(active=True)
        .annotate(has_attributes=Exists(ServiceAttribute.objects.filter(category=OuterRef("pk"))))
        .prefetch_related("skills")
        .order_by("sort", "code")
    )


def service_get(code: str) -> Category | None:
    return (
        Category.objects.filter(code=code, active=True)
        .prefetch_related(Prefetch("open311_attributes", queryset=ServiceAttribute.objects.order_by("order", "id")))
        .first()
    )


def _requests() -> QuerySet[Order]:
    last_note = OrderEvent.objects.filter(order=OuterRef("pk")).exclude(note="").order_by("-at", "-id")
    first_photo = Attachment.objects.filter(order=OuterRef("pk"), kind=Attachment.Kind.PHOTO).order_by(
        "created_at", "id"
    )
    # The grid chain names the place; the branch's own area is read only for the rare order
    # without a grid. The resident and profile are there to mask their details in free text.
    return Order.objects.select_related(
        "category", "branch__area__parent__parent", "grid__parent__parent", "resident__resident"
    ).annotate(
        last_note=Subquery(last_note.values("note")[:1]),
        photo_token=Subquery(first_photo.values("token")[:1]),
    )


def request_list(query: Query) -> list[Order]:
    """At most 1,000 requests, newest first. Ids given override every other filter (spec)."""
    qs = _requests()
    if query.ids is not None:
        qs = qs.filter(pk__in=query.ids)
    else:
        qs = qs.filter(created_at__gte=query.start, created_at__lte=query.end)
        if query.service_codes:
            qs = qs.filter(category__code__in=query.service_codes)
        if query.statuses:
            states = [s.value for name in query.statuses for s in BY_OPEN311_STATUS[name]]
            qs = qs.filter(status__in=states)
    return list(qs.order_by("-created_at", "-id")[:MAX_RESULTS])


def request_get(order_id: int) -> Order | None:
    return _requests().filter(pk=order_id).first()
