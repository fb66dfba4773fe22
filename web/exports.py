"""The desk's order list with its filters, as a page and as the files a street office keeps
(.xlsx and CSV, `stats.exports`): the page and the files read the same rows in the same
columns, so a file holds exactly what the page shows, every page of it.

Scope: the caller's desks (`web.selectors.desk_orders`: a branch's secretaries their
branch, staff every branch below their areas); nobody else has the page (404). The columns
include the resident's name, phone and address: the desk may see them
(`orders.selectors.PERSONAL_DATA_ROLES`), and the office calls residents back from this list.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from core.names import local_name
from orders.models import Category, Order
from stats.exports import Column
from volunteers.models import Area, Branch
from web.labels import STATUS_LABELS, URGENCY_LABELS
from web.selectors import desk_orders

PAGE_SIZE = 50
# Rows fetched from the database at a time while a file is written.
CHUNK = 2000

COLUMNS = [
    Column("id", pgettext_lazy("export", "No."), 8),
    Column("created_at", pgettext_lazy("export", "Submitted at"), 17),
    Column("category", pgettext_lazy("export", "Category"), 12),
    Column("status", pgettext_lazy("export", "Status"), 14),
    Column("urgency", pgettext_lazy("export", "Urgency"), 8),
    Column("branch", pgettext_lazy("export", "Branch"), 20),
    Column("grid", pgettext_lazy("export", "Neighbourhood"), 14),
    Column("description", pgettext_lazy("export", "Description"), 40),
    Column("resident", pgettext_lazy("export", "Resident"), 12),
    Column("phone", pgettext_lazy("export", "Phone"), 14),
    Column("address", pgettext_lazy("export", "Address"), 30),
    Column("volunteer", pgettext_lazy("export", "Volunteer"), 12),
    Column("completed_at", pgettext_lazy("export", "Completed at"), 17),
    Column("closed_at", pgettext_lazy("export", "Closed at"), 17),
    Column("hours", pgettext_lazy("export", "Hours"), 8),
    Column("followers", pgettext_lazy("export", "Same need (+1)"), 10),
    Column("merged_into", pgettext_lazy("export", "Merged into"), 10),
]

_FIELDS = (
    "pk",
    "created_at",
    "category_id",
    "status",
    "urgency",
    "branch_id",
    "grid_id",
    "description",
    "resident__display_name",
    "resident__username",
    "contact_phone",
    "address",
    "volunteer__user__display_name",
    "volunteer__user__username",
    "completed_at",
    "closed_at",
    "hours",
    "n_followers",
    "merged_into_id",
)


class OrderFilters(forms.Form):
    """The list's filters; an unknown value is ignored (the page shows what it understood)."""

    status = forms.ChoiceField(required=False)
    category = forms.ChoiceField(required=False)
    branch = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    urgency = forms.ChoiceField(required=False)
    start = forms.DateField(required=False)
    end = forms.DateField(required=False)

    def __init__(self, data: Any, *, branches: list[Branch]) -> None:
        super().__init__(data)
        any_ = [("", _("All"))]
        self.fields["status"].choices = any_ + [(k, str(v)) for k, v in STATUS_LABELS.items()]  # type: ignore[attr-defined]
        self.fields["category"].choices = any_ + [  # type: ignore[attr-defined]
            (c.code, local_name(c)) for c in Category.objects.order_by("sort", "code")
        ]
        self.fields["branch"].choices = any_ + [(b.pk, local_name(b)) for b in branches]  # type: ignore[attr-defined]
        self.fields["urgency"].choices = any_ + [(k, str(v)) for k, v in URGENCY_LABELS.items()]  # type: ignore[attr-defined]

    def values(self) -> dict[str, Any]:
        """The valid filters; a field that does not parse counts as not given."""
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in (None, "")}


def filtered(user, values: dict[str, Any]) -> QuerySet[Order]:
    """The caller's desks' orders under the filters, newest first."""
    qs = desk_orders(user, branch_id=values.get("branch"))
    if "status" in values:
        qs = qs.filter(status=values["status"])
    if "category" in values:
        qs = qs.filter(category__code=values["category"])
    if "urgency" in values:
        qs = qs.filter(urgency=values["urgency"])
    if "start" in values:
        qs = qs.filter(created_at__gte=_midnight(values["start"]))
    if "end" in values:
        qs = qs.filter(created_at__lt=_midnight(values["end"] + timedelta(days=1)))
    return qs.order_by("-created_at", "-id")


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _when(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def rows(qs: QuerySet[Order], *, chunk: int | None = None) -> Iterator[list[Any]]:
    """Each order as the cells of COLUMNS: plain values read a chunk at a time (no model
    instances; names of categories, branches and neighbourhoods looked up once)."""
    categories = {c.pk: local_name(c) for c in Category.objects.all()}
    branches = {b.pk: local_name(b) for b in Branch.objects.all()}
    grids = {a.pk: local_name(a) for a in Area.objects.filter(level=Area.Level.GRID)}
    statuses = {k: str(v) for k, v in STATUS_LABELS.items()}
    urgencies = {k: str(v) for k, v in URGENCY_LABELS.items()}
    values = qs.annotate(n_followers=Count("followers")).values_list(*_FIELDS)
    for r in values.iterator(chunk_size=chunk or CHUNK):
        yield [
            r[0],
            _when(r[1]),
            categories.get(r[2], ""),
            statuses.get(r[3], r[3]),
            urgencies.get(r[4], r[4]),
            branches.get(r[5], ""),
            grids.get(r[6], "") if r[6] else "",
            r[7],
            r[8] or r[9],
            r[10],
            r[11],
            (r[12] or r[13] or "") if r[13] else "",
            _when(r[14]),
            _when(r[15]),
            float(r[16]) if r[16] is not None else None,
            r[17],
            r[18],
        ]
