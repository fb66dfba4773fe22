"""Reads of orders, all scoped to the caller (no IDOR: an order out of scope is 404)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from orders.errors import OrderNotFound
from orders.models import Offer, Order
from orders.states import Role
from project.requestmemo import memoised
from volunteers.models import Area, Branch
from volunteers.selectors import staff_area_ids

# Roles that may see the resident's phone and exact address (DESIGN.md, Privacy).
PERSONAL_DATA_ROLES = frozenset({Role.RESIDENT, Role.SECRETARY, Role.STAFF, Role.ASSIGNED})


def roles_for(user, order: Order) -> set[Role]:
    """The caller's relations to one order (for an order read without `with_roles`)."""
    if not user.is_authenticated:
        return set()
    annotated = with_roles(Order.objects.filter(pk=order.pk), user).values(*_ROLE_FLAGS).first()
    if annotated is None:
        return set()
    return _roles(user, order, annotated)


# Each relation that needs a look beyond the order row, as an EXISTS the order's read carries:
# one statement for the order and the caller's roles instead of one per relation.
_ROLE_FLAGS = ("as_secretary", "as_staff", "as_offered")


def with_roles(orders: QuerySet[Order], user) -> QuerySet[Order]:
    """`orders` annotated with the caller's relations to each; read them with `roles_of`."""
    uid: int = user.pk if user.is_authenticated else 0  # 0: nobody's id; an anonymous caller has no roles
    area = OuterRef("branch__area_id")
    return orders.annotate(
        as_secretary=Exists(Branch.secretaries.through.objects.filter(branch_id=OuterRef("branch_id"), user_id=uid)),
        # Staff of the branch's area or of an area above it (the tree is three levels deep).
        as_staff=Exists(
            Area.objects.filter(staff=uid).filter(Q(pk=area) | Q(children__pk=area) | Q(children__children__pk=area))
        ),
        as_offered=Exists(
            Offer.objects.filter(order_id=OuterRef("pk"), volunteer__user_id=uid, status=Offer.Status.OPEN)
        ),
    )


def roles_of(user, order: Order) -> set[Role]:
    """The caller's relations to an order read through `with_roles`."""
    if not user.is_authenticated:
        return set()
    return _roles(user, order, {flag: getattr(order, flag) for flag in _ROLE_FLAGS})


def _roles(user, order: Order, flags: dict[str, bool]) -> set[Role]:
    roles: set[Role] = set()
    if order.resident_id == user.pk:
        roles.add(Role.RESIDENT)
    if flags["as_secretary"]:
        roles.add(Role.SECRETARY)
    if flags["as_staff"]:
        roles.add(Role.STAFF)
    if order.volunteer_id is not None and order.volunteer is not None and order.volunteer.user_id == user.pk:
        roles.add(Role.ASSIGNED)
    if flags["as_offered"]:
        roles.add(Role.OFFERED)
    return roles


def can_see_personal_data(roles: set[Role]) -> bool:
    return bool(roles & PERSONAL_DATA_ROLES)


def desk_branch_ids(user) -> set[int]:
    """Branches whose desk the user sits at: as a secretary, or as staff above them (read once
    per request: project/requestmemo.py)."""
    return set(memoised(("desk_branch_ids", user.pk), lambda: _desk_branch_ids(user)))


def _desk_branch_ids(user) -> set[int]:
    ids = set(Branch.objects.filter(secretaries=user).values_list("id", flat=True))
    areas = staff_area_ids(user.pk)
    if areas:
        ids |= set(Branch.objects.filter(area_id__in=areas).values_list("id", flat=True))
    return ids


def order_list(
    user, *, status: str | None = None, role: str | None = None, desks: set[int] | None = None
) -> QuerySet[Order]:
    """Orders the caller may see: their own, their desks', the one they hold, their open offers.
    `desks`: the caller's `desk_branch_ids`, when the caller has read them already."""
    open_offer = Offer.objects.filter(order=OuterRef("pk"), volunteer__user=user, status=Offer.Status.OPEN)
    scopes = {
        "resident": Q(resident=user),
        "desk": Q(branch_id__in=desk_branch_ids(user) if desks is None else desks),
        "volunteer": Q(volunteer__user=user) | Q(Exists(open_offer)),
    }
    condition = scopes[role] if role in scopes else scopes["resident"] | scopes["desk"] | scopes["volunteer"]
    qs = Order.objects.filter(condition).select_related("category", "branch", "grid", "volunteer__user", "resident")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def order_get_for(user, order_id: int) -> tuple[Order, set[Role]]:
    """One order and the caller's roles on it; 404 when the caller has none."""
    order = (
        with_roles(
            Order.objects.select_related("category", "branch__area", "volunteer__user", "resident", "grid"), user
        )
        .filter(pk=order_id)
        .order_by()  # one row by key: no sort (it cost ~3 ms a call with these joins)
        .first()
    )
    if order is None:
        raise OrderNotFound()
    roles = roles_of(user, order)
    if not roles:
        raise OrderNotFound()
    return order, roles


def open_offers_for(user) -> QuerySet[Offer]:
    return (
        Offer.objects.filter(volunteer__user=user, status=Offer.Status.OPEN, order__status="dispatched")
        .select_related("order__category", "order__grid", "order__branch")
        .order_by("-created_at")
    )


def personal_ids_for(user, orders, *, desks: set[int] | None = None) -> set[int]:
    """Ids of the given orders whose phone and address the caller may see, without a query
    per order: their own, their desks', the one they hold."""
    desks = desk_branch_ids(user) if desks is None else desks
    volunteer = getattr(user, "volunteer", None)
    vid = volunteer.pk if volunteer is not None else None
    return {
        o.pk
        for o in orders
        if o.resident_id == user.pk or o.branch_id in desks or (vid is not None and o.volunteer_id == vid)
    }
