"""Files a street office keeps: a table as `.xlsx` (openpyxl) or CSV, the same columns and
headers in both, streamed so that 10^5 rows never sit in memory at once.

- CSV: a generator of lines handed to a `StreamingHttpResponse` (UTF-8 with a BOM, so that
  spreadsheet programs open the Chinese correctly); the rows come from the database in
  chunks (`QuerySet.iterator`), each line is written and forgotten.
- xlsx: openpyxl's write-only workbook appends each row to the sheet's XML in a temporary
  file as it comes; the finished file (zipped) is streamed from disk by a `FileResponse`
  and deleted when the response is closed. openpyxl's ordinary workbook would keep every
  cell as a Python object (about 1 kB a cell).
Measured in bench/exports.py (docs/performance.md, "Exports").

What goes into a file is decided by the caller's reads, never here: these only write rows.
This module also holds the one table the statistics page exports: the figures per branch
and month (`branch_months`).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from core.names import local_name
from orders.states import Status
from stats.figures import ACCEPTED_EVER, Cohort, uses_rated_orders
from stats.models import RatedOrder
from stats.selectors import Scope
from volunteers.models import Branch

FORMATS = ("csv", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    key: str
    header: Any  # a lazy translation: the header in the language of the request
    width: int = 12  # characters, for the xlsx sheet


def _csv_lines(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Sequence[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if v is None else v for v in values])
        return buffer.getvalue()

    yield "\ufeff" + line(headers)
    for row in rows:
        yield line(row)


def stream_csv(columns: Sequence[Column], rows: Iterable[Sequence[Any]], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _csv_lines([str(c.header) for c in columns], rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def write_xlsx(columns: Sequence[Column], rows: Iterable[Sequence[Any]], out, *, title: str) -> None:
    """Write the sheet row by row (openpyxl write-only) to the file object `out`."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "Sheet1")
    for i, column in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(i)].width = column.width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=str(column.header))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    book.save(out)


class _DeletedOnClose(FileResponse):
    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        self._path = path
        super().__init__(*args, **kwargs)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if os.path.exists(self._path):
                os.unlink(self._path)


def stream_xlsx(columns: Sequence[Column], rows: Iterable[Sequence[Any]], filename: str, *, title: str) -> FileResponse:
    handle, path = tempfile.mkstemp(prefix="sandan-export-", suffix=".xlsx")
    try:
        with os.fdopen(handle, "wb") as out:
            write_xlsx(columns, rows, out, title=title)
        response = _DeletedOnClose(
            path,
            open(path, "rb"),  # noqa: SIM115 (the response closes it once sent)
            as_attachment=True,
            filename=f"{filename}.xlsx",
            content_type=XLSX_TYPE,
        )
    except BaseException:
        os.unlink(path)
        raise
    return response


def export(fmt: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], filename: str, *, title: str):
    """The table as `fmt` ("csv" or "xlsx"); the caller checked `fmt` is one of FORMATS."""
    if fmt == "xlsx":
        return stream_xlsx(columns, rows, filename, title=title)
    return stream_csv(columns, rows, filename)


# --- the statistics page's table: figures per branch and month ----------------------------------

BRANCH_MONTH_COLUMNS = [
    Column("month", pgettext_lazy("export", "Month"), 10),
    Column("branch", pgettext_lazy("export", "Branch"), 24),
    Column("received", pgettext_lazy("export", "Received"), 10),
    Column("accepted", pgettext_lazy("export", "Accepted"), 10),
    Column("closed", pgettext_lazy("export", "Closed"), 10),
    Column("completion_rate", pgettext_lazy("export", "Completion rate"), 12),
    Column("ratings", pgettext_lazy("export", "Ratings"), 10),
    Column("satisfied", pgettext_lazy("export", "Ratings of 4–5"), 12),
    Column("satisfaction_rate", pgettext_lazy("export", "Satisfaction rate"), 12),
    Column("reopened", pgettext_lazy("export", "Reopened"), 10),
    Column("overdue", pgettext_lazy("export", "Overdue now"), 10),
    Column("merged", pgettext_lazy("export", "Duplicates merged (not counted)"), 14),
]


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def branch_months(scope: Scope, start: date, end: date) -> list[list[Any]]:
    """One row per branch of the scope and month of submission within [start, end], in the
    columns of BRANCH_MONTH_COLUMNS; the same definitions as `stats.figures` (a merged
    duplicate is counted once, as its survivor: here it is only shown in its own column).
    Months without orders are left out. Three grouped statements whatever the size."""
    from orders.models import Order
    from orders.sla import Sla

    tz = timezone.get_current_timezone()
    cohort = scope.cohort(start, end)
    grouped = (
        Order.objects.filter(cohort.q())
        .annotate(month=TruncMonth("created_at", tzinfo=tz))
        .values("branch_id", "month")
        .annotate(
            received=Count("id", filter=~Q(status=Status.MERGED)),
            accepted=Count("id", filter=Q(status__in=ACCEPTED_EVER)),
            closed=Count("id", filter=Q(status=Status.CLOSED)),
            reopened=Count("id", filter=Q(reopen_count__gt=0)),
            overdue=Count("id", filter=Sla.for_request().overdue_q(timezone.now())),
            n_merged=Count("id", filter=Q(status=Status.MERGED)),
        )
        .order_by("month", "branch_id")
    )
    ratings = _ratings_by_branch_month(cohort)
    names = {b.pk: local_name(b) for b in Branch.objects.filter(pk__in=scope.branch_ids or ())}
    rows = []
    for g in grouped:
        month = g["month"].date() if hasattr(g["month"], "date") else g["month"]
        total, satisfied = ratings.get((g["branch_id"], month), (0, 0))
        rows.append(
            [
                f"{month:%Y-%m}",
                names.get(g["branch_id"], str(g["branch_id"])),
                g["received"],
                g["accepted"],
                g["closed"],
                _rate(g["closed"], g["accepted"]),
                total,
                satisfied,
                _rate(satisfied, total),
                g["reopened"],
                g["overdue"],
                g["n_merged"],
            ]
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def _ratings_by_branch_month(cohort: Cohort) -> dict[tuple[int, date], tuple[int, int]]:
    from django.db.models import Sum

    from stats.figures import cohort_ratings

    tz = timezone.get_current_timezone()
    if uses_rated_orders(cohort):
        kept = (
            RatedOrder.objects.filter(cohort.q())
            .annotate(month=TruncMonth("created_at", tzinfo=tz))
            .values("branch_id", "month")
            .annotate(total=Sum("ratings"), satisfied=Sum("satisfied"))
        )
        found = [(r["branch_id"], r["month"], r["total"], r["satisfied"]) for r in kept]
    else:
        joined = (
            cohort_ratings(cohort)
            .annotate(month=TruncMonth("order__created_at", tzinfo=tz))
            .values("order__branch_id", "month")
            .annotate(total=Count("id"), satisfied=Count("id", filter=Q(rating__gte=4)))
        )
        found = [(r["order__branch_id"], r["month"], r["total"], r["satisfied"]) for r in joined]
    return {
        (branch, month.date() if hasattr(month, "date") else month): (total or 0, satisfied or 0)
        for branch, month, total, satisfied in found
    }


def export_title() -> str:
    return _("Figures per branch and month")
