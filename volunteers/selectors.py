from __future__ import annotations

import math
from collections.abc import Iterable

from django.db.models import QuerySet

from project.requestmemo import memoised
from volunteers.models import Area, Branch, Volunteer

EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def point_in_polygon(lat: float, lng: float, polygon: list[list[float]]) -> bool:
    """Even-odd ray casting on [[lat, lng], ...]; fine at grid scale (hundreds of metres)."""
    inside = False
    n = len(polygon)
    for i in range(n):
        y1, x1 = polygon[i]
        y2, x2 = polygon[(i + 1) % n]
        if (y1 > lat) != (y2 > lat):
            x_cross = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lng < x_cross:
                inside = not inside
    return inside


def ancestor_ids(area: Area) -> list[int]:
    """The area and every area above it (grid → community → street)."""
    ids: list[int] = []
    node: Area | None = area
    while node is not None:
        ids.append(node.pk)
        node = node.parent
    return ids


def descendant_ids(area_ids: Iterable[int]) -> set[int]:
    """The areas and every area below them; the tree is three levels deep."""
    found = set(area_ids)
    frontier = set(found)
    while frontier:
        children = set(Area.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        found |= children
        frontier = children
    return found


def staff_area_ids(user_id: int) -> set[int]:
    """Every area a staff member oversees (their seats and everything below); read once per
    request (project/requestmemo.py)."""
    return set(memoised(("staff_area_ids", user_id), lambda: _staff_area_ids(user_id)))


def _staff_area_ids(user_id: int) -> set[int]:
    seats = list(Area.objects.filter(staff=user_id).values_list("id", flat=True))
    return descendant_ids(seats) if seats else set()


def grid_for_point(lat: float, lng: float) -> Area | None:
    """The grid whose polygon contains the point, or failing that the one with the nearest
    centre. Grids are looked for in a widening box so a city-sized table is not scanned."""
    grids = Area.objects.filter(level=Area.Level.GRID)
    for box in (0.02, 0.1, 0.5):
        near = list(
            grids.filter(center_lat__range=(lat - box, lat + box), center_lng__range=(lng - box, lng + box)).only(
                "id", "center_lat", "center_lng", "polygon", "parent_id"
            )
        )
        if near:
            break
    else:
        near = list(grids.only("id", "center_lat", "center_lng", "polygon", "parent_id"))
    if not near:
        return None
    for grid in near:
        if grid.polygon and point_in_polygon(lat, lng, grid.polygon):
            return grid
    return min(near, key=lambda g: (distance_m(lat, lng, g.center_lat, g.center_lng), g.pk))


def branch_for_area(area: Area) -> Branch | None:
    """The territorial branch serving an area, walking up the tree if it has none."""
    node: Area | None = area
    while node is not None:
        branch = Branch.objects.filter(area=node, kind=Branch.Kind.TERRITORIAL).order_by("id").first()
        if branch is not None:
            return branch
        node = node.parent
    return None


def on_duty_members(branch: Branch) -> QuerySet[Volunteer]:
    return Volunteer.objects.filter(branches=branch, on_duty=True).select_related("user")
