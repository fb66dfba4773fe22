"""Writes of the accountability work: drawing a sampling review and recording its calls."""

from __future__ import annotations

import math
import secrets
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.errors import InvalidInput, NotPermitted, OrderError
from orders.services import order_note_review
from stats.models import ReviewItem, ReviewSample
from stats.selectors import ScopeNotFound, closed_orders_in
from volunteers.models import Area, Branch
from volunteers.selectors import branch_ids_under, staff_area_ids

MAX_SAMPLE = 2000


class AlreadyReviewed(OrderError):
    code = "already_reviewed"
    default_message = "This call-back has already been recorded."


@transaction.atomic
def review_sample_draw(
    *,
    user,
    start: date,
    end: date,
    percent: Decimal,
    branch_id: int | None = None,
    area_id: int | None = None,
) -> ReviewSample:
    """Staff draw `percent` % (rounded up, at least one) of the orders closed in [start, end]
    in a branch or an area below them, uniformly at random (`secrets.SystemRandom`, so the
    branch being checked cannot predict the draw). Each drawn order becomes a call to make.

    Only community/street staff draw: a branch does not choose how it is checked.
    """
    errors: dict[str, list[str]] = {}
    if end < start:
        errors["to"] = [_("The end of the period must not be before its start.")]
    if percent is None or not Decimal("0") < Decimal(percent) <= Decimal("100"):
        errors["percent"] = [_("Give a percentage above 0 and at most 100.")]
    if (branch_id is None) == (area_id is None):
        errors["branch"] = [_("Name either a branch or an area.")]
    if errors:
        raise InvalidInput(fields=errors)
    overseen = staff_area_ids(user.pk)
    if not overseen:
        raise NotPermitted(_("Only community or street staff draw review samples."))
    branch = area = None
    if branch_id is not None:
        branch = Branch.objects.filter(pk=branch_id).first()
        if branch is None:
            raise ScopeNotFound()
        if branch.area_id not in overseen:
            raise NotPermitted(_("This branch is not below your area."))
        branch_ids: tuple[int, ...] = (branch.pk,)
    else:
        area = Area.objects.filter(pk=area_id).first() if area_id is not None else None
        if area is None:
            raise ScopeNotFound()
        if area.pk not in overseen:
            raise NotPermitted(_("This area is not yours."))
        branch_ids = branch_ids_under(area.pk)
    population = list(closed_orders_in(branch_ids=branch_ids, start=start, end=end).values_list("id", flat=True))
    size = min(len(population), math.ceil(len(population) * Decimal(percent) / 100), MAX_SAMPLE)
    drawn = secrets.SystemRandom().sample(population, size) if size else []
    sample = ReviewSample.objects.create(
        branch=branch, area=area, start=start, end=end, percent=percent, population=len(population), drawn_by=user
    )
    ReviewItem.objects.bulk_create([ReviewItem(sample=sample, order_id=oid) for oid in sorted(drawn)])
    return sample


def check_review(*, user, item: ReviewItem) -> None:
    """Staff above the order's branch record the call (the branch itself may not)."""
    if item.order.branch.area_id not in staff_area_ids(user.pk):
        raise NotPermitted(_("Only community or street staff above this branch record call-backs."))


@transaction.atomic
def review_record(*, user, item_id: int, result: str, note: str = "") -> ReviewItem:
    """Record what the call-back found, once. It goes on the order's timeline as a `review`
    event (from = to = the order's current status: a review does not move the order) and
    into the branch's figures (`stats.figures`).

    Recorded once: a conditional UPDATE (`result = ''`) decides between two staff saving
    the same call at the same moment; the loser gets 409 `already_reviewed`.
    """
    item = ReviewItem.objects.select_related("order__branch").filter(pk=item_id).first()
    if item is None:
        raise ScopeNotFound()
    check_review(user=user, item=item)
    if result not in ReviewItem.Result.values:
        raise InvalidInput(fields={"result": [_("Choose confirmed, not_as_reported or unreachable.")]})
    text = (note or "").strip()[:1000]
    now = timezone.now()
    won = ReviewItem.objects.filter(pk=item.pk, result="").update(
        result=result, note=text, reviewer=user, reviewed_at=now
    )
    if won != 1:
        raise AlreadyReviewed()
    order_note_review(
        order_id=item.order_id,
        user=user,
        result=result,
        label=str(ReviewItem.Result(result).label),
        sample_id=item.sample_id,
    )
    item.refresh_from_db()
    return item
