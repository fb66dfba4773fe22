"""Reads behind the dashboard and the monthly review: who may see which scope, the figures
over time, the most active volunteers, the lowest-rated orders."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from core.names import local_name
from orders.errors import InvalidInput, NotPermitted, OrderError
from orders.models import Category, Order, Rating
from orders.states import Status
from stats.figures import ACCEPTED_EVER, Cohort, cohort_ratings, uses_rated_orders
from stats.models import RatedOrder
from volunteers.models import Area, Branch, Volunteer
from volunteers.selectors import branch_ids_under, desk_branch_ids, staff_area_ids

SCOPE_KINDS = ("branch", "area", "volunteer", "category")


class ScopeNotFound(OrderError):
    status_code = 404
    code = "not_found"
    default_message = "No such scope."


@dataclass(frozen=True)
class Scope:
    kind: str
    key: str
    label: str
    branch_ids: tuple[int, ...] | None = None
    volunteer_id: int | None = None
    category_id: int | None = None

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.key}"

    def cohort(self, start: date, end: date) -> Cohort:
        return Cohort(start, end, self.branch_ids, self.volunteer_id, self.category_id)


def parse_scope(text: str | None) -> tuple[str, str]:
    kind, _sep, key = (text or "").partition(":")
    if kind not in SCOPE_KINDS or not key:
        raise InvalidInput(fields={"scope": [_("Use branch:<id>, area:<id>, volunteer:<id> or category:<code>.")]})
    if kind != "category" and not key.isdigit():
        raise InvalidInput(fields={"scope": [_("The id after '%(kind)s:' must be a number.") % {"kind": kind}]})
    return kind, key


def scope_for(user, text: str | None, *, category: str | None = None) -> Scope:
    """The scope the caller asked for, if they may read it.

    - branch: its secretaries, and staff of an area above it;
    - area: staff seated on it or on an area above it (their subtree);
    - volunteer: the volunteer themself, and the desks of the branches they belong to;
    - category: that category across every branch whose desk the caller sits at.
    Unknown ids are 404; known ones the caller may not read are 403.
    `category` narrows any scope to one category.
    """
    kind, key = parse_scope(text)
    category_id = None
    if category:
        category_id = Category.objects.filter(code=category).values_list("id", flat=True).first()
        if category_id is None:
            raise InvalidInput(fields={"category": [_("Unknown category.")]})
    if kind == "branch":
        branch = Branch.objects.filter(pk=int(key)).first()
        if branch is None:
            raise ScopeNotFound()
        if branch.pk not in desk_branch_ids(user):
            raise NotPermitted(_("You may not read this branch's figures."))
        scope = Scope(kind, key, local_name(branch), branch_ids=(branch.pk,))
    elif kind == "area":
        area = Area.objects.filter(pk=int(key)).first()
        if area is None:
            raise ScopeNotFound()
        if area.pk not in staff_area_ids(user.pk):
            raise NotPermitted(_("You may not read this area's figures."))
        scope = Scope(kind, key, local_name(area), branch_ids=branch_ids_under(area.pk))
    elif kind == "volunteer":
        volunteer = Volunteer.objects.select_related("user").filter(pk=int(key)).first()
        if volunteer is None:
            raise ScopeNotFound()
        own = volunteer.user_id == user.pk
        desks = desk_branch_ids(user)
        if not own and not volunteer.branches.filter(pk__in=desks).exists():
            raise NotPermitted(_("You may not read this volunteer's figures."))
        scope = Scope(kind, key, str(volunteer), volunteer_id=volunteer.pk)
    else:
        cat = Category.objects.filter(code=key).first()
        if cat is None:
            raise ScopeNotFound()
        desks = desk_branch_ids(user)
        if not desks:
            raise NotPermitted(_("Only branch and community staff read figures by category."))
        scope = Scope(kind, key, local_name(cat), branch_ids=tuple(sorted(desks)), category_id=cat.pk)
    if category_id is not None:
        scope = replace(scope, category_id=category_id)
    return scope


def scopes_available(user) -> list[Scope]:
    """What the dashboard offers the caller to pick from: their areas, branches, themself."""
    found: list[Scope] = []
    seats = Area.objects.filter(staff=user).order_by("level", "name")
    for area in seats:
        found.append(Scope("area", str(area.pk), local_name(area)))
    for area in Area.objects.filter(pk__in=staff_area_ids(user.pk)).exclude(staff=user).order_by("level", "name"):
        found.append(Scope("area", str(area.pk), local_name(area)))
    for branch in Branch.objects.filter(pk__in=desk_branch_ids(user)).order_by("name"):
        found.append(Scope("branch", str(branch.pk), local_name(branch)))
    volunteer = Volunteer.objects.filter(user=user).first()
    if volunteer is not None:
        found.append(Scope("volunteer", str(volunteer.pk), _("My own figures")))
    return found


def series(cohort: Cohort, *, by: str = "month") -> list[dict[str, Any]]:
    """Received, accepted and closed orders per month (or day) of submission, plus ratings."""
    trunc = TruncMonth if by == "month" else TruncDay
    tz = timezone.get_current_timezone()
    rows = (
        cohort.orders()
        .annotate(bucket=trunc("created_at", tzinfo=tz))
        .values("bucket")
        .annotate(
            received=Count("id"),
            accepted=Count("id", filter=Q(status__in=ACCEPTED_EVER)),
            closed=Count("id", filter=Q(status=Status.CLOSED)),
        )
        .order_by("bucket")
    )
    per_bucket: QuerySet[Any, dict[str, Any]]
    if uses_rated_orders(cohort):
        per_bucket = (
            RatedOrder.objects.filter(cohort.q())
            .annotate(bucket=trunc("created_at", tzinfo=tz))
            .values("bucket")
            .annotate(total=Sum("ratings"), satisfied=Sum("satisfied"))
        )
    else:
        per_bucket = (
            cohort_ratings(cohort)
            .annotate(bucket=trunc("order__created_at", tzinfo=tz))
            .values("bucket")
            .annotate(total=Count("id"), satisfied=Count("id", filter=Q(rating__gte=4)))
        )
    ratings = {r["bucket"]: (r["total"], r["satisfied"]) for r in per_bucket}
    out = []
    for r in rows:
        total, satisfied = ratings.get(r["bucket"], (0, 0))
        bucket = r["bucket"].date() if hasattr(r["bucket"], "date") else r["bucket"]
        out.append({**r, "bucket": bucket, "ratings": total, "satisfied": satisfied})
    return out


def series_even(cohort: Cohort, *, start: date, end: date, by: str) -> list[dict[str, Any]]:
    """`series` with a row for every day (or month) of the period, zeros where nothing came
    in: charts over time need an even axis, and an empty day is a fact too."""
    from stats.periods import buckets

    found = {row["bucket"]: row for row in series(cohort, by=by)}
    empty = {"received": 0, "accepted": 0, "closed": 0, "ratings": 0, "satisfied": 0}
    return [found.get(day, {**empty, "bucket": day}) for day in buckets(start, end, by)]


def rating_totals(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """The series already joined ratings to orders: its sums are the cohort's totals."""
    return sum(r["ratings"] for r in rows), sum(r["satisfied"] for r in rows)


def most_active_volunteers(cohort: Cohort, *, limit: int = 10) -> list[dict[str, Any]]:
    """Volunteers by closed orders of the cohort, then by hours."""
    rows = (
        cohort.orders()
        .filter(status=Status.CLOSED, volunteer__isnull=False)
        .values("volunteer_id", "volunteer__user__username", "volunteer__user__display_name")
        .annotate(orders=Count("id"), hours=Sum("hours"))
        .order_by("-orders", "-hours", "volunteer_id")[:limit]
    )
    return [
        {
            "volunteer": r["volunteer_id"],
            "name": r["volunteer__user__display_name"] or r["volunteer__user__username"],
            "orders": r["orders"],
            "hours": r["hours"],
        }
        for r in rows
    ]


def lowest_rated(cohort: Cohort, *, limit: int = 10, below: int = 4) -> QuerySet[Rating]:
    """The cohort's ratings under `below` stars, worst and oldest first."""
    return (
        Rating.objects.filter(cohort.q("order__"), rating__lt=below)
        .select_related("order__category", "volunteer__user")
        .order_by("rating", "created_at", "id")[:limit]
    )


def branch_in_scope_of(user, branch_id: int) -> Branch:
    branch = Branch.objects.select_related("area").filter(pk=branch_id).first()
    if branch is None:
        raise ScopeNotFound()
    if branch.pk not in desk_branch_ids(user):
        raise NotPermitted(_("You may not read this branch's figures."))
    return branch


def closed_orders_in(*, branch_ids: tuple[int, ...], start: date, end: date) -> QuerySet[Order]:
    """Orders of the branches closed in [start, end] local time: a sampling review's population."""
    cohort = Cohort(start, end)
    return Order.objects.filter(
        branch_id__in=branch_ids, status=Status.CLOSED, closed_at__gte=cohort.since, closed_at__lt=cohort.until
    )
