"""The period a figure covers: two local dates, both included."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from orders.errors import InvalidInput

MAX_DAYS = 3 * 366


def month_bounds(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def parse_period(raw_from: str | None, raw_to: str | None) -> tuple[date, date]:
    """`from`/`to` as YYYY-MM-DD; without them, the current month up to today."""
    today = timezone.localdate()
    errors: dict[str, list[str]] = {}
    parsed: dict[str, date] = {}
    for name, raw in (("from", raw_from), ("to", raw_to)):
        if raw in (None, ""):
            continue
        try:
            parsed[name] = date.fromisoformat(str(raw))
        except ValueError:
            errors[name] = [_("Use a date as YYYY-MM-DD.")]
    if errors:
        raise InvalidInput(fields=errors)
    end = parsed.get("to", today)
    start = parsed.get("from", end.replace(day=1))
    if end < start:
        raise InvalidInput(fields={"to": [_("The end of the period must not be before its start.")]})
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(fields={"from": [_("Ask for at most three years at once.")]})
    return start, end


def buckets(start: date, end: date, by: str) -> list[date]:
    """Every day (or first of a month) from `start` to `end`: a time axis has no gaps."""
    if by == "day":
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]
    out, month = [], start.replace(day=1)
    while month <= end:
        out.append(month)
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return out
