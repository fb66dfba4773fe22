"""What the maps show: the desk's map (orders, grid outlines, on-duty volunteers), the
outlines a resident drops a pin within, and the map settings the pages pass to map.js.

Scope and privacy are decided here, not in the browser:
- orders: those of the caller's desks (`web.selectors.desk_orders`), still open. A desk sees
  the resident's exact address (`orders.selectors.PERSONAL_DATA_ROLES`), so it gets the point
  itself, rounded to 1e-5 degrees (about a metre);
- volunteers: the on-duty members of the caller's desks' branches, at their last shared
  position if it is recent (`LAST_SHARED_WITHIN`). Nobody else's, and never an off-duty one;
- the map is for desks only: anyone else is refused (`NotPermitted`, 403)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import NotPermitted
from core.names import local_name
from orders.states import Status
from volunteers.models import Area, Branch, LocationPing, Volunteer
from volunteers.selectors import descendant_ids, desk_branch_ids, staff_area_ids
from volunteers.services import LIVE_FRESH
from web import selectors
from web.desk import pressing_first
from web.labels import STATUS_LABELS

# States a desk still acts on or follows; finished orders would bury them on the map.
OPEN_STATES = [Status.SUBMITTED, Status.ACCEPTED, Status.DISPATCHED, Status.CLAIMED, Status.IN_PROGRESS]
MAX_ORDERS = 500
# A position shared longer ago than this says where the volunteer was, not where they are: it
# is left off the map. Within it, one older than LIVE_FRESH (the matcher's limit) is drawn
# faded, with its age.
LAST_SHARED_WITHIN = timedelta(hours=1)
# Decimal places of a shown point: 5 is about a metre, what a desk needs to find the door.
DESK_PRECISION = 5


def map_settings() -> dict[str, str]:
    """The tiles and their datum (MAP_TILE_*), for map.js; no URL means a plain background."""
    return {
        "tiles": settings.MAP_TILE_URL,
        "attribution": settings.MAP_TILE_ATTRIBUTION,
        "crs": settings.MAP_TILE_CRS,
        "zoom_in": _("Zoom in"),
        "zoom_out": _("Zoom out"),
    }


def _point(lat: float, lng: float, places: int) -> list[float]:
    return [round(lat, places), round(lng, places)]


def area_shape(area: Area) -> dict[str, Any]:
    return {
        "id": area.pk,
        "name": local_name(area),
        "level": area.level,
        "center": _point(area.center_lat, area.center_lng, DESK_PRECISION),
        "polygon": area.polygon or None,
    }


def order_place(order, *, personal: bool) -> dict[str, Any] | None:
    """Where an order is, for its page's map: only to whom may see its address (a point on a
    map is an address), so to a volunteer once they hold it, never while it is offered."""
    if not personal:
        return None
    return {
        "point": _point(order.lat, order.lng, DESK_PRECISION),
        "grid": area_shape(order.grid) if order.grid is not None else None,
    }


def pin_start(profile) -> dict[str, Any]:
    """Where the request form's map opens: the resident's home if known, else the middle of
    the served grids; and the grids' outlines, to drop the pin within."""
    grids = served_grids()
    home = None
    if profile is not None and profile.lat is not None and profile.lng is not None:
        home = _point(profile.lat, profile.lng, DESK_PRECISION)
    return {"home": home, "grids": grids}


def served_grids() -> list[dict[str, Any]]:
    """Every grid's outline: where a resident's pin will be routed (public: the map of the
    service area, nothing about anyone)."""
    grids = Area.objects.filter(level=Area.Level.GRID).order_by("name")
    return [area_shape(a) for a in grids]


def _desk_scope(user, branch_id: int | None) -> set[int]:
    branches = desk_branch_ids(user)
    if not branches:
        raise NotPermitted(_("Only secretaries and staff have a desk map."))
    if branch_id is not None:
        # Someone else's branch is no branch of yours: the same empty map as a wrong number.
        branches = branches & {branch_id}
    return branches


def desk_map(user, *, branch_id: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The desk's map: its open orders, its grids' outlines, its on-duty volunteers."""
    now = now or timezone.now()
    branches = _desk_scope(user, branch_id)
    return {
        "orders": _orders(user, branch_id=branch_id) if branches else [],
        "areas": _areas(user, branches, whole_desk=branch_id is None),
        "volunteers": _volunteers(branches, now),
    }


def _orders(user, *, branch_id: int | None) -> list[dict[str, Any]]:
    newest = (
        selectors.desk_orders(user, branch_id=branch_id)
        .filter(status__in=OPEN_STATES)
        .order_by("-created_at", "-id")[:MAX_ORDERS]
    )
    rows = pressing_first(selectors.with_clocks(newest))
    out = []
    for order in rows:
        clock = getattr(order, "clock", None)
        out.append(
            {
                "id": order.pk,
                "status": order.status,
                "status_label": str(STATUS_LABELS.get(order.status, order.status)),
                "urgency": order.urgency,
                "urgent": order.urgency == order.Urgency.URGENT,
                "overdue": bool(clock and clock.overdue),
                "escalated": order.escalated_at is not None,
                "category": local_name(order.category),
                "area": local_name(order.grid) if order.grid is not None else "",
                "branch": order.branch_id,
                "point": _point(order.lat, order.lng, DESK_PRECISION),
                "created_at": order.created_at.isoformat(),
                "url": reverse("web:order", args=[order.pk]),
            }
        )
    return out


def _areas(user, branches: set[int], *, whole_desk: bool) -> list[dict[str, Any]]:
    """The branches' own areas and everything below them; staff also see the outline of the
    community or street they sit on (unless the map is narrowed to one branch)."""
    roots = set(Branch.objects.filter(pk__in=branches).values_list("area_id", flat=True))
    if whole_desk:
        roots |= staff_area_ids(user.pk)
    areas = Area.objects.filter(pk__in=descendant_ids(roots)).order_by("level", "name") if roots else []
    return [area_shape(a) for a in areas]


def _volunteers(branches: set[int], now: datetime) -> list[dict[str, Any]]:
    if not branches:
        return []
    since = now - LAST_SHARED_WITHIN
    members = Volunteer.branches.through.objects.filter(branch_id__in=branches).values("volunteer_id")
    last_ping = LocationPing.objects.filter(volunteer_id=OuterRef("pk"), at__gte=since).order_by("-at").values("pk")
    on_duty = (
        Volunteer.objects.filter(pk__in=members, on_duty=True, live_at__gte=since)
        .annotate(ping_id=Subquery(last_ping[:1]))
        .select_related("user")
        .order_by("pk")
    )
    people = [v for v in on_duty if v.ping_id is not None]  # type: ignore[attr-defined]
    pings = LocationPing.objects.in_bulk([v.ping_id for v in people])  # type: ignore[attr-defined]
    out = []
    for volunteer in people:
        ping = pings[volunteer.ping_id]  # type: ignore[attr-defined]
        out.append(
            {
                "id": volunteer.pk,
                "name": str(volunteer.user),
                "point": _point(ping.lat, ping.lng, DESK_PRECISION),
                "at": ping.at.isoformat(),
                "minutes_ago": int((now - ping.at).total_seconds() // 60),
                "fresh": now - ping.at <= LIVE_FRESH,
            }
        )
    return out
