from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from core.geo import distance_m, point_in_polygon
from core.memo import memoised
from core.prepared import Ids, prepared
from volunteers.models import Area, Branch, Skill, Volunteer


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
    request (core/memo.py)."""
    return set(memoised(("staff_area_ids", user_id), lambda: _staff_area_ids(user_id)))


def _staff_area_ids(user_id: int) -> set[int]:
    return set(_staff_areas.all(user_id))


@prepared
def _staff_areas(uid: int) -> QuerySet:
    # One statement, compiled once (core/prepared.py), as `_desk_branches`: the areas the user
    # is staff of, and the areas one and two levels below them (the tree is three levels deep).
    # Read on every statistics request; a seat read and then each level's children were four.
    seated = Q(staff=uid) | Q(parent__staff=uid) | Q(parent__parent__staff=uid)
    return Area.objects.filter(seated).order_by().values_list("id", flat=True)


def branch_ids_under(area_id: int) -> tuple[int, ...]:
    """The branches in an area or below it, in id order."""
    return tuple(sorted(set(_branches_under.all(area_id))))


@prepared
def _branches_under(area_id: int) -> QuerySet:
    # One statement instead of the subtree's levels and then its branches (three levels deep).
    under = Q(area_id=area_id) | Q(area__parent_id=area_id) | Q(area__parent__parent_id=area_id)
    return Branch.objects.filter(under).order_by().values_list("id", flat=True)


def volunteer_names(volunteer_ids: Iterable[int]) -> dict[int, str]:
    """Each volunteer's name as `str(user)` gives it (display name, else username)."""
    return {pk: shown or username for pk, shown, username in _names.all(Ids(volunteer_ids))}


@prepared
def _names(ids: Ids) -> QuerySet:
    # The names alone, one kept statement for any number (core/prepared.py): whole volunteer
    # and user rows for twenty candidates were a quarter of the candidates request.
    return Volunteer.objects.filter(pk__any_of=ids).values_list("pk", "user__display_name", "user__username")


def desk_branch_ids(user) -> set[int]:
    """Branches whose desk the user sits at: as a secretary, or as staff above them (read once
    per request: core/memo.py)."""
    if not user.is_authenticated:
        return set()
    return set(memoised(("desk_branch_ids", user.pk), lambda: _desk_branches.all(user.pk)))


@prepared
def _desk_branches(uid: int) -> QuerySet:
    # One statement, compiled once (core/prepared.py): the branches the user is secretary of,
    # and those in an area they are staff of or below it (the tree is three levels deep: street,
    # community, grid). Read on every list, desk page and privacy check; as two or three
    # statements built on each request it cost 1.8-2.3 ms of CPU.
    overseen = Q(area__staff=uid) | Q(area__parent__staff=uid) | Q(area__parent__parent__staff=uid)
    return (
        Branch.secretaries.through.objects.filter(user_id=uid)
        .order_by()
        .values_list("branch_id", flat=True)
        .union(Branch.objects.filter(overseen).order_by().values_list("id", flat=True))
    )


# A point outside every grid's polygon still belongs to the nearest grid if its centre is this
# close (grids drawn without a polygon, a doorstep just across a boundary line). Beyond it the
# point is outside every served area: (0, 0) or another city is refused, not routed anywhere.
SERVED_DISTANCE_M = 5_000


def grid_for_point(lat: float, lng: float) -> Area | None:
    """The grid whose polygon contains the point, or failing that the one with the nearest
    centre within SERVED_DISTANCE_M; None outside every served area. Grids are looked for in
    a box around the point, so a city-sized table is not scanned."""
    box = 0.1  # degrees: more than SERVED_DISTANCE_M in every direction below latitude 60
    near = list(
        Area.objects.filter(
            level=Area.Level.GRID,
            center_lat__range=(lat - box, lat + box),
            center_lng__range=(lng - box, lng + box),
        ).only("id", "center_lat", "center_lng", "polygon", "parent_id")
    )
    for grid in near:
        if grid.polygon and point_in_polygon(lat, lng, grid.polygon):
            return grid
    if not near:
        return None
    nearest = min(near, key=lambda g: (distance_m(lat, lng, g.center_lat, g.center_lng), g.pk))
    if distance_m(lat, lng, nearest.center_lat, nearest.center_lng) > SERVED_DISTANCE_M:
        return None
    return nearest


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


# --- who a person is (GET /me, and every page's header) -----------------------------------------


@dataclass(frozen=True)
class Person:
    volunteer: Volunteer | None  # with their skills and branches kept as prefetches keep them
    secretary: bool  # of at least one branch
    staff_areas: list[Area]  # the seats, not the areas below them
    branches: list[Branch]  # where they are secretary, member, or oversee, by name


def person_of(user) -> Person:
    """The person's roles and places in five statements, each compiled once (core/prepared.py):
    read by every phone when it starts and by every page, its seven reads built per request
    were most of `GET /me`."""
    volunteer = _volunteer_of.first(user.pk)
    branches = _branches_of.all(user.pk, Ids(sorted(desk_branch_ids(user))))
    member = [b for b in branches if b.as_member]  # type: ignore[attr-defined]  # _branches_of's marks
    if volunteer is not None:
        _keep(volunteer, "skills", _skills_of.all(volunteer.pk))
        _keep(volunteer, "branches", sorted(member, key=lambda b: (b.name, b.pk)))
    return Person(
        volunteer=volunteer,
        secretary=any(b.as_secretary for b in branches),  # type: ignore[attr-defined]
        staff_areas=_staff_seats.all(user.pk),
        branches=branches,
    )


def _keep(volunteer: Volunteer, relation: str, rows: list) -> None:
    # What prefetch_related stores: `volunteer.<relation>.all()` answers from it.
    related = getattr(volunteer, relation).all()
    related._result_cache = rows
    related._prefetch_done = True  # type: ignore[attr-defined]
    cache = getattr(volunteer, "_prefetched_objects_cache", {})
    volunteer._prefetched_objects_cache = {**cache, relation: related}  # type: ignore[attr-defined]


@prepared
def _volunteer_of(uid: int) -> QuerySet[Volunteer]:
    return Volunteer.objects.filter(user_id=uid)[:1]


@prepared
def _skills_of(volunteer_id: int) -> QuerySet[Skill]:
    return Skill.objects.filter(volunteers__id=volunteer_id)


@prepared
def _staff_seats(uid: int) -> QuerySet[Area]:
    return Area.objects.filter(staff=uid)


@prepared
def _branches_of(uid: int, desks: Ids) -> QuerySet[Branch]:
    # Their desks' branches and those they are a member of, each marked with which it is.
    member = Exists(Volunteer.branches.through.objects.filter(branch_id=OuterRef("pk"), volunteer__user_id=uid))
    secretary = Exists(Branch.secretaries.through.objects.filter(branch_id=OuterRef("pk"), user_id=uid))
    return (
        Branch.objects.annotate(as_member=member, as_secretary=secretary)
        .filter(Q(pk__any_of=desks) | Q(as_member=True))
        .order_by("name", "pk")
    )
