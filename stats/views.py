"""Dashboard, CSV export, monthly review (page and PDF), sampling-review desk. Thin: parse,
call a selector or service, render. Domain errors become 400/403/404 pages."""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.typing import AuthedHttpRequest
from orders.errors import InvalidInput, OrderError
from orders.models import Category
from stats.cache import remembered
from stats.charts import bar_chart
from stats.exports import BRANCH_MONTH_COLUMNS, FORMATS, branch_months, export, export_title
from stats.figures import figures
from stats.models import ReviewItem, ReviewSample
from stats.periods import parse_period
from stats.reports import figure_rows, monthly_review, render_pdf
from stats.selectors import (
    branch_in_scope_of,
    rating_totals,
    scope_for,
    scopes_available,
    series,
    series_even,
)
from stats.services import review_record, review_sample_draw
from volunteers.models import Area, Branch
from volunteers.selectors import staff_area_ids


def domain_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except OrderError as exc:
            problems = [m for ms in (exc.fields or {}).values() for m in ms] or [exc.message]
            response = render(request, "stats/error.html", {"problems": problems}, status=exc.status_code)
            response.sandan_page = True  # type: ignore[attr-defined]  # its own message, not the generic 404
            return response

    return wrapped


def _rate(closed: int, accepted: int) -> float | None:
    return closed / accepted if accepted else None


@login_required
@domain_errors
def dashboard(request: AuthedHttpRequest) -> HttpResponse:
    choices = scopes_available(request.user)
    raw_scope = request.GET.get("scope") or (choices[0].text if choices else None)
    if raw_scope is None:
        return render(request, "stats/error.html", {"problems": [_("You have no figures to read.")]}, status=403)
    start, end = parse_period(request.GET.get("from"), request.GET.get("to"))
    category = request.GET.get("category") or None
    scope = scope_for(request.user, raw_scope, category=category)
    cohort = scope.cohort(start, end)
    by = "day" if (end - start).days <= 62 else "month"
    rows = remembered("series", (cohort, by), lambda: series_even(cohort, start=start, end=end, by=by))
    figs = remembered("dashboard", cohort, lambda: figures(cohort, rating_counts=rating_totals(rows)))
    labels = [f"{r['bucket']:%m-%d}" if by == "day" else f"{r['bucket']:%Y-%m}" for r in rows]
    chart = bar_chart(
        labels,
        {_("received"): [r["received"] for r in rows], _("closed"): [r["closed"] for r in rows]},
        line=(_("completion rate"), [_rate(r["closed"], r["accepted"]) for r in rows]),
        title=_("Orders by %(unit)s of submission") % {"unit": _("day") if by == "day" else _("month")},
    )
    satisfaction = bar_chart(
        labels,
        {_("ratings"): [r["ratings"] for r in rows], _("4–5 stars"): [r["satisfied"] for r in rows]},
        line=(_("satisfaction rate"), [_rate(r["satisfied"], r["ratings"]) for r in rows]),
        title=_("Ratings"),
    )
    branch_id = scope.branch_ids[0] if scope.kind == "branch" and scope.branch_ids else None
    # The figures per branch and month: a desk's scope only (a volunteer's has no branches).
    per_branch = (
        remembered("branch-months", (cohort, get_language()), lambda: branch_months(scope, start, end))
        if scope.branch_ids is not None
        else None
    )
    # Staff reach each branch's monthly review from the area's dashboard.
    below = Branch.objects.filter(pk__in=scope.branch_ids).order_by("name")[:200] if scope.kind == "area" else []
    return render(
        request,
        "stats/dashboard.html",
        {
            "scope": scope,
            "choices": choices,
            "start": start,
            "end": end,
            "category": category or "",
            "categories": Category.objects.filter(active=True).order_by("sort", "code"),
            "rows": figure_rows(figs),
            "chart": chart,
            "satisfaction_chart": satisfaction,
            "query": request.GET.urlencode(),
            "branch_id": branch_id,
            "branches_below": below,
            "month": f"{end:%Y-%m}",  # the most recent month of the period
            "per_branch": per_branch,
            "per_branch_columns": BRANCH_MONTH_COLUMNS,
        },
    )


@login_required
@domain_errors
def export_csv(request: AuthedHttpRequest) -> HttpResponse:
    """The figures per month (or day) of the period and the total, as CSV (UTF-8 with BOM,
    so that spreadsheet programs open the Chinese names correctly)."""
    start, end = parse_period(request.GET.get("from"), request.GET.get("to"))
    scope = scope_for(request.user, request.GET.get("scope"), category=request.GET.get("category") or None)
    cohort = scope.cohort(start, end)
    by = "day" if (end - start).days <= 62 else "month"
    rows = series(cohort, by=by)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="stats-{scope.kind}-{scope.key}-{start}-{end}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(
        ["bucket", "received", "accepted", "closed", "completion_rate", "ratings", "satisfied", "satisfaction_rate"]
    )
    for r in rows:
        writer.writerow(
            [
                r["bucket"],
                r["received"],
                r["accepted"],
                r["closed"],
                _fmt(_rate(r["closed"], r["accepted"])),
                r["ratings"],
                r["satisfied"],
                _fmt(_rate(r["satisfied"], r["ratings"])),
            ]
        )
    f = figures(cohort, rating_counts=rating_totals(rows))
    writer.writerow([])
    writer.writerow(["figure", "value"])
    writer.writerow(["scope", scope.text])
    writer.writerow(["from", start])
    writer.writerow(["to", end])
    for key in [
        "received",
        "accepted",
        "closed",
        "completion_rate",
        "ratings",
        "satisfied",
        "satisfaction_rate",
        "median_minutes_to_review",
        "median_minutes_to_claim",
        "median_minutes_to_complete",
        "reopened",
        "reopen_rate",
        "overdue",
        "review_confirmed_rate",
    ]:
        writer.writerow([key, _fmt(f[key])])
    for result, n in f["reviews"].items():
        writer.writerow([f"reviews_{result}", n])
    return response


@login_required
@domain_errors
def export_branches(request: AuthedHttpRequest, fmt: str) -> HttpResponse:
    """The dashboard's "per branch and month" table as .xlsx or CSV: the same scope, period
    and category as the page, the same columns, headers in the page's language."""
    if fmt not in FORMATS:
        raise InvalidInput(fields={"format": [_("Use csv or xlsx.")]})
    start, end = parse_period(request.GET.get("from"), request.GET.get("to"))
    scope = scope_for(request.user, request.GET.get("scope"), category=request.GET.get("category") or None)
    if scope.branch_ids is None:
        raise InvalidInput(fields={"scope": [_("Figures per branch are for a branch or an area.")]})
    rows = branch_months(scope, start, end)
    name = f"branches-{scope.kind}-{scope.key}-{start}-{end}"
    return export(fmt, BRANCH_MONTH_COLUMNS, rows, name, title=export_title())


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _month(raw: str) -> tuple[int, int]:
    try:
        first = date.fromisoformat(f"{raw}-01")
    except ValueError:
        raise InvalidInput(fields={"month": [_("Use a month as YYYY-MM.")]}) from None
    return first.year, first.month


@login_required
@domain_errors
def monthly(request: AuthedHttpRequest, branch_id: int, month: str) -> HttpResponse:
    branch = branch_in_scope_of(request.user, branch_id)
    review = monthly_review(branch, *_month(month))
    chart = bar_chart(
        [f"{r['bucket']:%d}" for r in review.days],
        {_("received"): [r["received"] for r in review.days], _("closed"): [r["closed"] for r in review.days]},
        title=_("Orders by day of submission"),
    )
    return render(
        request, "stats/monthly.html", {"review": review, "rows": figure_rows(review.figures), "chart": chart}
    )


@login_required
@domain_errors
def monthly_pdf(request: AuthedHttpRequest, branch_id: int, month: str) -> HttpResponse:
    branch = branch_in_scope_of(request.user, branch_id)
    review = monthly_review(branch, *_month(month))
    response = HttpResponse(render_pdf(review), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="monthly-review-{branch.pk}-{review.month}.pdf"'
    return response


@login_required
@domain_errors
@require_http_methods(["GET", "POST"])
def samples(request: AuthedHttpRequest) -> HttpResponse:
    """Staff's call-back desk: draw a sample, then record each call."""
    areas = staff_area_ids(request.user.pk)
    if not areas:
        return render(
            request, "stats/error.html", {"problems": [_("Only community or street staff review.")]}, status=403
        )
    if request.method == "POST":
        if "item" in request.POST:
            item_id = request.POST.get("item", "")
            review_record(
                user=request.user,
                item_id=int(item_id) if item_id.isdigit() else 0,
                result=request.POST.get("result", ""),
                note=request.POST.get("note", ""),
            )
            messages.success(request, _("Call-back recorded."))
        else:
            start, end = parse_period(request.POST.get("from"), request.POST.get("to"))
            try:
                percent = Decimal(request.POST.get("percent", ""))
            except InvalidOperation:
                percent = Decimal("0")
            branch = request.POST.get("branch", "")
            sample = review_sample_draw(
                user=request.user,
                start=start,
                end=end,
                percent=percent,
                branch_id=int(branch) if branch.isdigit() else None,
                area_id=None
                if branch.isdigit()
                else min(Area.objects.filter(staff=request.user).values_list("id", flat=True)),
            )
            messages.success(
                request,
                _("%(n)s orders drawn out of %(total)s.") % {"n": sample.items.count(), "total": sample.population},
            )
        return redirect("stats:samples")
    recent = (
        (ReviewSample.objects.filter(branch__area_id__in=areas) | ReviewSample.objects.filter(area_id__in=areas))
        .select_related("branch", "area")
        .prefetch_related("items__order__category")[:10]
    )
    return render(
        request,
        "stats/samples.html",
        {
            "samples": recent,
            "branches": Branch.objects.filter(area_id__in=areas).order_by("name"),
            "results": ReviewItem.Result.choices,
        },
    )
