"""Reads of orders, all scoped to the caller (no IDOR: an order out of scope is 404)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from core.prepared import Ids, Prepared, prepared
from orders.errors import InvalidInput, NotPermitted, OrderNotFound
from orders.models import Attachment, Offer, Order, OrderEvent, OrderFollower, Rating
from orders.states import Role, Status
from volunteers.models import Area, Branch
from volunteers.selectors import desk_branch_ids

# Roles that may always see the resident's name, phone and exact address (docs/design.md,
# "Events and privacy"); the volunteer who holds the order only within `contact_open`.
PERSONAL_DATA_ROLES = frozenset({Role.RESIDENT, Role.SECRETARY, Role.STAFF})


def roles_for(user, order: Order) -> set[Role]:
    """The caller's relations to one order (for an order read without `with_roles`)."""
    if not user.is_authenticated:
        return set()
    annotated = _role_flags.first(user.pk, order.pk)
    if annotated is None:
        return set()
    return _roles(user, order, annotated)


# Each relation that needs a look beyond the order row, as an EXISTS the order's read carries:
# one statement for the order and the caller's roles instead of one per relation.
_ROLE_FLAGS = ("as_secretary", "as_staff", "as_offered", "as_follower")


def with_roles(orders: QuerySet[Order], uid: int) -> QuerySet[Order]:
    """`orders` annotated with the relations of user `uid` to each (0: nobody, no roles); read
    them with `roles_of`. Takes the id, not the user: the prepared reads pass ints."""
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
        as_follower=Exists(OrderFollower.objects.filter(order_id=OuterRef("pk"), user_id=uid)),
    )


@prepared
def _role_flags(uid: int, order_id: int) -> QuerySet:
    return with_roles(Order.objects.filter(pk=order_id), uid).values(*_ROLE_FLAGS).order_by()[:1]


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
    if flags["as_follower"]:
        roles.add(Role.FOLLOWER)
    return roles


def contact_open(order: Order, now: datetime | None = None) -> bool:
    """Whether the volunteer who holds `order` may still see the resident's personal data:
    while they hold it, while it waits for the resident's confirmation, and for
    SANDAN["CONTACT_HOURS_AFTER_CLOSE"] hours after it is closed (something left behind, a
    question about the job). After that the order stays in their history without them."""
    return _contact_open(order.status, order.closed_at, now)


def _contact_open(status: str, closed_at: datetime | None, now: datetime | None) -> bool:
    if status != Status.CLOSED or closed_at is None:
        return True
    window = timedelta(hours=settings.SANDAN["CONTACT_HOURS_AFTER_CLOSE"])
    return closed_at > (now or timezone.now()) - window


def can_see_personal_data(roles: set[Role], order: Order) -> bool:
    return bool(roles & PERSONAL_DATA_ROLES) or (Role.ASSIGNED in roles and contact_open(order))


def order_list(
    user, *, status: str | None = None, role: str | None = None, desks: set[int] | None = None
) -> QuerySet[Order]:
    """Orders the caller may see: their own, their desks', the ones they hold, their open offers.
    `desks`: the caller's `desk_branch_ids`, when the caller has read them already."""
    scope = _list_scope(user, role=role, desks=desks)
    if scope is None:
        return Order.objects.none()
    return _scoped_orders(scope.uid, scope.branches, scope.related, status, resident=scope.resident)


class OrderRows:
    """A page of the caller's orders as `values()` rows of `columns`, and their count, as DRF's
    paginator asks them of a queryset (`count()`, a slice): the same orders as `order_list`,
    each read compiled once per shape of scope (core/prepared.py): building this read and its
    count was half the list's CPU (docs/performance.md, "Eighth pass")."""

    def __init__(
        self, user, columns: tuple[str, ...], *, status: str | None, role: str | None, desks: set[int] | None
    ) -> None:
        self.scope = _list_scope(user, role=role, desks=desks)
        self.columns, self.status = columns, status

    def count(self) -> int:
        if self.scope is None:
            return 0
        counted = _list_reads(self._shape(), self.columns)[1].first(*self._args())
        return counted["n"] if counted else 0

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        if self.scope is None or page.stop is None:
            return []
        start = page.start or 0
        rows = _list_reads(self._shape(), self.columns)[0]
        return rows.page(*self._args(), offset=start, limit=page.stop - start)

    def _shape(self) -> tuple[bool, int, bool, bool]:
        assert self.scope is not None
        return (self.scope.resident, len(self.scope.branches), bool(self.scope.related), bool(self.status))

    def _args(self) -> list[int | str | Ids]:
        # In the order _list_reads' builds take them, each present only in its shape.
        assert self.scope is not None
        resident, _, related, status = self._shape()
        return [
            *([self.scope.uid] if resident else []),
            *self.scope.branches,
            *([self.scope.related] if related else []),
            *([self.status] if status and self.status else []),
        ]


@dataclass(frozen=True)
class _ListScope:
    uid: int
    resident: bool  # the caller's own orders
    branches: tuple[int, ...]  # their desks' branches
    related: Ids  # the orders they follow, hold or have an open offer of


def _list_scope(user, *, role: str | None, desks: set[int] | None) -> _ListScope | None:
    """What the caller's list is made of, for `role` (None: every role); None: no orders at all.

    Every scope is a condition PostgreSQL answers from an index: the resident's column, the
    branch's, or ids read first (the orders followed, held, offered: one short statement).
    Written as one OR with EXISTS subqueries, as it was, it read the whole orders table for
    every list: invisible on the demo city, a scan of the year's million orders on every
    resident's page in a city (docs/performance.md, "Fifth pass")."""
    if not user.is_authenticated:
        return None
    wanted = {role} if role in ("resident", "desk", "volunteer") else {"resident", "desk", "volunteer"}
    branches: tuple[int, ...] = ()
    if "desk" in wanted:
        branches = tuple(sorted(desk_branch_ids(user) if desks is None else desks))
    related = Ids(_related_order_ids(user, followed="resident" in wanted, volunteering="volunteer" in wanted))
    if not ("resident" in wanted or branches or related):
        return None  # e.g. the desk's list of someone at no desk
    return _ListScope(user.pk, "resident" in wanted, branches, related)


def _scoped_orders(
    uid: int, branches: Sequence[int], related: Ids, status: str | None, *, resident: bool
) -> QuerySet[Order]:
    scope = Q(pk__in=[])  # nothing yet: each scope below adds its orders
    if resident:
        scope |= Q(resident_id=uid)
    if branches:
        # A parameter per branch: PostgreSQL plans a desk's page knowing how many branches, even
        # with a plan kept for any values (a desk of one small branch must not walk the city's
        # orders by date looking for its 50); a desk has a few, so a few kept shapes.
        scope |= Q(branch_id__in=branches)
    if related:
        # The ids as one array parameter (core/prepared.py): one kept read however many a
        # volunteer has, each found by the primary key whatever the plan.
        scope |= Q(pk__any_of=related)
    # The resident's profile too: a row the caller may not see personally shows its text masked.
    qs = Order.objects.filter(scope).select_related(
        "category", "branch", "grid", "volunteer__user", "resident__resident"
    )
    if status:
        qs = qs.filter(status=status)
    if branches or not related:
        # A desk's orders are many and spread over time: newest first along the date's index.
        # A resident's own alone: along their (resident, date) index, however many they have.
        return qs.order_by("-created_at", "-id")
    # Ids read first (held, offered, followed) are few, a long-serving volunteer's thousands:
    # found by their ids, then sorted. Ordered by the bare column, PostgreSQL could walk the
    # city's orders backwards by date expecting to meet them among the newest: 390 ms for a
    # volunteer whose 1,750 orders are old (docs/performance.md, "Fifth pass"). The date plus
    # nothing sorts the same and matches no index.
    created = ExpressionWrapper(F("created_at") + timedelta(0), output_field=DateTimeField())
    return qs.order_by(created.desc(), "-id")


@functools.lru_cache(maxsize=256)
def _list_reads(shape: tuple[bool, int, bool, bool], columns: tuple[str, ...]) -> tuple[Prepared, Prepared]:
    """The page read and the count of one shape of scope (resident, how many branches, related,
    status present), taking `OrderRows._args`: a few shapes per number of branches a desk
    has, each compiled once."""
    resident, desks, related, status = shape

    def scoped(*args: Any) -> QuerySet[Order]:
        rest = list(args)
        uid = rest.pop(0) if resident else 0
        branches = [rest.pop(0) for _ in range(desks)]
        ids = rest.pop(0) if related else Ids()
        return _scoped_orders(uid, branches, ids, rest.pop(0) if status else None, resident=resident)

    def rows(*args: Any) -> QuerySet:
        return scoped(*args).values(*columns)

    def count(*args: Any) -> QuerySet:
        # The scope alone, no joins: PostgreSQL counts a desk's 78,000 orders from the branch's
        # index in 3 ms, through the joins the columns need in 97 ms ("Fifth pass"). One row
        # grouped by a constant, which Django leaves out of the GROUP BY: the whole count.
        return scoped(*args).select_related(None).order_by().values(one=Value(1)).annotate(n=Count("pk")).values("n")

    name = "_".join(str(int(part)) for part in shape)
    rows.__name__, count.__name__ = f"order_rows_{name}", f"order_count_{name}"
    return prepared(rows), prepared(count)


def _related_order_ids(user, *, followed: bool, volunteering: bool) -> list[int]:
    """Ids of the orders the caller follows ("this is mine too", or theirs merged into one),
    holds or has an open offer of, as asked: one statement, each part by an index."""
    if not user.is_authenticated or not (followed or volunteering):
        return []
    return sorted(set(_RELATED_IDS[(followed, volunteering)].all(user.pk)))


def _related_ids_read(followed: bool, volunteering: bool) -> Prepared:
    def ids(uid: int) -> QuerySet:
        parts: list[QuerySet] = []
        if followed:
            parts.append(OrderFollower.objects.filter(user_id=uid).order_by().values_list("order_id", flat=True))
        if volunteering:
            parts.append(Order.objects.filter(volunteer__user_id=uid).order_by().values_list("id", flat=True))
            parts.append(
                Offer.objects.filter(volunteer__user_id=uid, status=Offer.Status.OPEN)
                .order_by()
                .values_list("order_id", flat=True)
            )
        return parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]

    ids.__name__ = f"related_ids_{int(followed)}{int(volunteering)}"
    return prepared(ids)


# Read on every list: compiled once per combination (core/prepared.py).
_RELATED_IDS = {(f, v): _related_ids_read(f, v) for f in (False, True) for v in (False, True) if f or v}


@prepared
def _order_with_roles(uid: int, order_id: int) -> QuerySet[Order]:
    # Compiled once (core/prepared.py): building this read cost ~7 ms a call, running it 0.4.
    return (
        with_roles(
            Order.objects.select_related("category", "branch__area", "volunteer__user", "resident__resident", "grid"),
            uid,
        )
        .filter(pk=order_id)
        .order_by()[:1]  # one row by key: no sort (it cost ~3 ms a call with these joins)
    )


def order_get_for(user, order_id: int) -> tuple[Order, set[Role]]:
    """One order and the caller's roles on it; 404 when the caller has none."""
    if not user.is_authenticated:
        raise OrderNotFound()  # no roles on any order
    order = _order_with_roles.first(user.pk, int(order_id))
    if order is None:
        raise OrderNotFound()
    roles = roles_of(user, order)
    if not roles:
        raise OrderNotFound()
    return order, roles


# The detail's other reads, one order's rows each: compiled once (core/prepared.py), as the
# detail is read after every action too.
@prepared
def _timeline(order_id: int) -> QuerySet[OrderEvent]:
    return OrderEvent.objects.filter(order_id=order_id).select_related("actor")


@prepared
def _attachments(order_id: int) -> QuerySet[Attachment]:
    return Attachment.objects.filter(order_id=order_id)


@prepared
def _latest_rating(order_id: int) -> QuerySet[Rating]:
    return Rating.objects.filter(order_id=order_id).order_by("-created_at")[:1]


def with_timeline(order: Order) -> Order:
    """The order with its timeline (each step's actor joined) kept as a prefetch keeps it:
    `order.events.all()` answers from it, one statement for the whole timeline."""
    steps = _timeline.all(order.pk)
    for step in steps:  # each step knows its order, as a prefetch's rows do
        OrderEvent.order.field.set_cached_value(step, order)
    events = order.events.all()
    events._result_cache = steps  # what prefetch_related_objects stores
    events._prefetch_done = True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {**getattr(order, "_prefetched_objects_cache", {}), "events": events}  # type: ignore[attr-defined]
    return order


def order_attachments(order: Order) -> list[Attachment]:
    return _attachments.all(order.pk)


def latest_rating(order: Order) -> Rating | None:
    return _latest_rating.first(order.pk)


def open_offers_for(user) -> list[Offer]:
    """The offers waiting for the caller's tap, newest first."""
    return _open_offers.all(user.pk) if user.is_authenticated else []


@prepared
def _open_offers(uid: int) -> QuerySet[Offer]:
    # Compiled once (core/prepared.py): a volunteer's phone asks for this on every refresh.
    return (
        Offer.objects.filter(volunteer__user_id=uid, status=Offer.Status.OPEN, order__status="dispatched")
        .select_related("order__category", "order__grid", "order__branch", "order__resident__resident")
        .order_by("-created_at")
    )


def personal_ids_for(user, orders, *, desks: set[int] | None = None) -> set[int]:
    """Ids of the given orders whose phone and address the caller may see, without a query
    per order: their own, their desks', the one they hold."""
    desks = desk_branch_ids(user) if desks is None else desks
    now = timezone.now()
    vid: list[int | None] = []  # the caller's volunteer id, read only if an order needs it

    def holds(o: Order) -> bool:
        if o.volunteer_id is None:
            return False
        if Order.volunteer.is_cached(o):  # the lists and the detail join the volunteer already
            return o.volunteer is not None and o.volunteer.user_id == user.pk
        if not vid:
            volunteer = getattr(user, "volunteer", None)
            vid.append(volunteer.pk if volunteer is not None else None)
        return o.volunteer_id == vid[0]

    return {
        o.pk for o in orders if o.resident_id == user.pk or o.branch_id in desks or (holds(o) and contact_open(o, now))
    }


def personal_ids_for_rows(user, rows: list[dict], *, desks: set[int]) -> set[int]:
    """`personal_ids_for` of a list read as rows (`orders.serializers.ORDER_ROW_COLUMNS`)."""
    now = timezone.now()
    uid = user.pk  # once: request.user is a lazy object, each attribute read a detour
    return {
        r["id"]
        for r in rows
        if r["resident_id"] == uid
        or r["branch_id"] in desks
        or (
            r["volunteer_id"] is not None
            and r["volunteer__user_id"] == uid
            and _contact_open(r["status"], r["closed_at"], now)
        )
    }


# --- the desk's reads about many orders --------------------------------------------------------

DESK_ROLES = frozenset({Role.SECRETARY, Role.STAFF})
# A batch proposal or dispatch takes at most this many orders at once.
MAX_BATCH = 200


def desk_order_get(user, order_id: int) -> Order:
    """The order if the caller sits at its desk (secretary or staff above); 404 when they
    cannot see it at all, 403 when they can but may not see its candidates."""
    order, roles = order_get_for(user, order_id)
    if not roles & DESK_ROLES:
        raise NotPermitted(_("Only the branch's secretaries and staff may see candidates."))
    return order


def batch_orders_for(user, order_ids: Sequence[int], field_name: str) -> list[Order]:
    """The accepted orders of the caller's desks among `order_ids`, or a 400 naming each one
    that is not (with the same words whether it does not exist or is someone else's: no IDOR
    oracle)."""
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        raise InvalidInput(fields={field_name: [_("Name at least one order.")]})
    if len(ids) > MAX_BATCH:
        raise InvalidInput(fields={field_name: [_("At most %(n)s orders at once.") % {"n": MAX_BATCH}]})
    orders, errors = [], []
    for oid in ids:
        try:
            order = desk_order_get(user, oid)
        except (OrderNotFound, NotPermitted):
            errors.append(_("Order %(id)s is not one of your desk's orders.") % {"id": oid})
            continue
        if order.status != Status.ACCEPTED:
            errors.append(_("Order %(id)s is not waiting for dispatch.") % {"id": oid})
            continue
        orders.append(order)
    if errors:
        raise InvalidInput(fields={field_name: errors})
    return orders
