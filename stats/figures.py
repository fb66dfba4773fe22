"""The accountability figures, computed in the database (docs/accountability.md, `GET /api/v1/stats`).

Cohort: every figure is about the orders *received* (submitted) in the period
[`start` 00:00, `end` 24:00) local time, within the scope. Their current state is what the
figures read, so the numbers for a past month settle as its last orders close.

- `received`: orders submitted in the period, each need once: an order closed as a duplicate
  of another (status `merged`, `orders.services.order_merge`) is not counted, its survivor
  is. So a merged order is in no figure's numerator or denominator (it was never accepted
  in its own right; it cannot have been rated: only orders never reopened are merged).
- `accepted`: of those, orders accepted at some point and still in the service: status in
  accepted, dispatched, claimed, in_progress, completed, closed. (Submitted ones are not yet
  accepted, or were transferred and wait to be reviewed anew; rejected and cancelled are out.)
- `completion_rate` (辦結率) = closed ÷ accepted. Null when nothing was accepted.
- `satisfaction_rate` (滿意率) = ratings of 4 or 5 ÷ all ratings of the cohort's orders
  (a reopened order rated twice counts twice: both verdicts were given). Null without ratings.
- `median_minutes_to_review`: submitted → accepted or rejected (`reviewed_at − created_at`).
- `median_minutes_to_claim`: dispatched → claimed (`claimed_at − dispatched_at`), how long
  an offer waits for a volunteer.
- `median_minutes_to_complete`: submitted → completed (`completed_at − created_at`), what
  the resident waits end to end.
  Medians cover the orders that reached that step; null when none did.
- `reopen_rate` = orders reopened at least once ÷ orders that were ever completed
  (completed or closed now, or reopened). Null when none was.
- `overdue`: cohort orders still open now whose current step has taken longer than its SLA,
  as the desk and the timers count it (`orders.sla`: per-branch overrides in `Branch.sla`,
  else the `SANDAN_*_MINUTES` settings): submitted since `created_at` > review; accepted
  since `reviewed_at` > dispatch; dispatched since `dispatched_at` > offer; claimed since
  `claimed_at` > start; in progress since `started_at` > complete.
- `reviews`: results of the sampling call-backs of the cohort's orders, by result, and
  `review_confirmed_rate` = confirmed ÷ reached (confirmed + not as reported).

Medians: PERCENTILE_CONT(0.5) on PostgreSQL, all in one aggregate query with FILTER clauses;
on SQLite (the embedded single-process default) one ORDER BY … LIMIT 2 OFFSET n/2 query each.
Ratings: on PostgreSQL from `RatedOrder` (per-order rating counts kept by trigger, read by an
index-only scan), elsewhere by joining the ratings to the cohort's orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, FloatField, Func, Q, QuerySet, Sum
from django.utils import timezone

from orders.models import Order, Rating
from orders.sla import Sla
from orders.states import Status
from stats.models import RatedOrder, ReviewItem

ACCEPTED_EVER = [
    Status.ACCEPTED,
    Status.DISPATCHED,
    Status.CLAIMED,
    Status.IN_PROGRESS,
    Status.COMPLETED,
    Status.CLOSED,
]
DONE = [Status.COMPLETED, Status.CLOSED]
# (name, end field, start field) of the three medians.
MEDIANS = [
    ("median_minutes_to_review", "reviewed_at", "created_at"),
    ("median_minutes_to_claim", "claimed_at", "dispatched_at"),
    ("median_minutes_to_complete", "completed_at", "created_at"),
]
FIGURE_KEYS = [
    "received",
    "completion_rate",
    "satisfaction_rate",
    "median_minutes_to_review",
    "median_minutes_to_claim",
    "median_minutes_to_complete",
    "reopen_rate",
    "overdue",
]


class EpochSeconds(Func):
    """date_part('epoch', interval) as float8: sorting floats for the medians is ~25 % cheaper
    than sorting intervals (and EXTRACT would return numeric, slower still)."""

    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


class Median(Aggregate):
    """PostgreSQL's PERCENTILE_CONT(0.5), ordered-set aggregate; works on intervals."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


@dataclass(frozen=True)
class Cohort:
    """Which orders a figure is about: the scope's rows submitted in [start, end]."""

    start: date
    end: date
    branch_ids: tuple[int, ...] | None = None  # None = not restricted by branch
    volunteer_id: int | None = None
    category_id: int | None = None

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def q(self, prefix: str = "") -> Q:
        cond = Q(**{f"{prefix}created_at__gte": self.since, f"{prefix}created_at__lt": self.until})
        if self.branch_ids is not None:
            cond &= Q(**{f"{prefix}branch_id__in": self.branch_ids})
        if self.volunteer_id is not None:
            cond &= Q(**{f"{prefix}volunteer_id": self.volunteer_id})
        if self.category_id is not None:
            cond &= Q(**{f"{prefix}category_id": self.category_id})
        return cond

    def orders(self) -> QuerySet[Order]:
        # A merged duplicate is the same need as its survivor: counted once, as the survivor.
        return Order.objects.filter(self.q()).exclude(status=Status.MERGED)


def _duration(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _minutes(value: timedelta | float | None) -> float | None:
    """Minutes from a timedelta (SQLite path) or a number of seconds (PostgreSQL path)."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return round(seconds / 60.0, 1)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _sqlite_median(qs: QuerySet[Order], end: str, start: str) -> timedelta | None:
    """Median without PERCENTILE_CONT: count, then read the middle one or two in SQL order."""
    rows = qs.filter(**{f"{end}__isnull": False, f"{start}__isnull": False}).annotate(d=_duration(end, start))
    n = rows.count()
    if n == 0:
        return None
    middle = list(rows.order_by("d").values_list("d", flat=True)[(n - 1) // 2 : (n - 1) // 2 + 2])
    return middle[0] if n % 2 else (middle[0] + middle[1]) / 2


def figures(
    cohort: Cohort, *, now: datetime | None = None, rating_counts: tuple[int, int] | None = None
) -> dict[str, Any]:
    """All figures of one cohort; see the module docstring for their exact definitions.

    `rating_counts` = (ratings, of which 4 or 5) when the caller already has them (the
    dashboard sums its per-month series), saving the join of ratings to orders."""
    now = now or timezone.now()
    orders = cohort.orders()
    aggregates: dict[str, Any] = {
        "received": Count("id"),
        "accepted": Count("id", filter=Q(status__in=ACCEPTED_EVER)),
        "closed": Count("id", filter=Q(status=Status.CLOSED)),
        "ever_done": Count("id", filter=Q(status__in=DONE) | Q(reopen_count__gt=0)),
        "reopened": Count("id", filter=Q(reopen_count__gt=0)),
        "overdue": Count("id", filter=Sla.for_request().overdue_q(now)),
    }
    postgres = connection.vendor == "postgresql"
    if postgres:
        for name, end, start in MEDIANS:
            aggregates[name] = Median(
                EpochSeconds(_duration(end, start)),
                filter=Q(**{f"{end}__isnull": False, f"{start}__isnull": False}),
                output_field=FloatField(),
            )
    row = orders.aggregate(**aggregates)
    medians = {name: row[name] if postgres else _sqlite_median(orders, end, start) for name, end, start in MEDIANS}
    if rating_counts is not None:
        ratings = {"total": rating_counts[0], "satisfied": rating_counts[1]}
    else:
        ratings = _ratings(cohort)
    reviews = _reviews(cohort)
    reached = reviews["confirmed"] + reviews["not_as_reported"]
    return {
        "received": row["received"],
        "accepted": row["accepted"],
        "closed": row["closed"],
        "completion_rate": _rate(row["closed"], row["accepted"]),
        "ratings": ratings["total"],
        "satisfied": ratings["satisfied"],
        "satisfaction_rate": _rate(ratings["satisfied"], ratings["total"]),
        **{name: _minutes(value) for name, value in medians.items()},
        "reopened": row["reopened"],
        "reopen_rate": _rate(row["reopened"], row["ever_done"]),
        "overdue": row["overdue"],
        "reviews": reviews,
        "review_confirmed_rate": _rate(reviews["confirmed"], reached),
    }


def cohort_ratings(cohort: Cohort) -> QuerySet[Rating]:
    """The ratings the satisfaction rate counts: those of the cohort's orders."""
    if cohort.volunteer_id is not None:
        # A volunteer's verdicts stay theirs even after a reopen moved the order on.
        plain = Cohort(cohort.start, cohort.end, cohort.branch_ids, None, cohort.category_id)
        return Rating.objects.filter(plain.q("order__"), volunteer_id=cohort.volunteer_id)
    return Rating.objects.filter(cohort.q("order__"))


def uses_rated_orders(cohort: Cohort) -> bool:
    """PostgreSQL keeps `RatedOrder` exact by trigger; a volunteer's figures follow the
    ratings' own volunteer, which only the ratings table knows."""
    return connection.vendor == "postgresql" and cohort.volunteer_id is None


def _ratings(cohort: Cohort) -> dict[str, int]:
    if uses_rated_orders(cohort):
        row = RatedOrder.objects.filter(cohort.q()).aggregate(total=Sum("ratings"), satisfied=Sum("satisfied"))
        return {"total": row["total"] or 0, "satisfied": row["satisfied"] or 0}
    return cohort_ratings(cohort).aggregate(total=Count("id"), satisfied=Count("id", filter=Q(rating__gte=4)))


def _reviews(cohort: Cohort) -> dict[str, int]:
    counts = dict(
        ReviewItem.objects.filter(cohort.q("order__"))
        .exclude(result="")
        .values_list("result")
        .annotate(n=Count("id"))
        .values_list("result", "n")
    )
    return {result: counts.get(result, 0) for result in ReviewItem.Result.values}
