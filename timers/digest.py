"""The daily desk digest: one email to each secretary and staff member about their desks.

Figures only (counts per branch), never a resident's personal data. Sent by the
`send_desk_digest` command, and by the worker once a day after `DIGEST_HOUR` (local time);
the unique `DigestRun.day` row makes one worker out of many send it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.delivery.email import email_send
from notifications.delivery.preferences import prefs_for_many
from orders.models import Order
from orders.sla import Sla
from orders.states import Status
from timers.models import DigestRun, Step
from timers.services import due_orders
from volunteers.models import Branch
from volunteers.selectors import desk_branch_ids

logger = logging.getLogger(__name__)

_OVERDUE_STEPS = (Step.REVIEW_ESCALATE, Step.OFFER_WIDEN, Step.CLAIM_REMIND, Step.CONFIRM_CLOSE)


def _branch_lines(branch_ids: set[int], *, now: datetime, sla: Sla) -> list[str]:
    since = now - timedelta(days=1)
    counts = {
        row["branch_id"]: row
        for row in Order.objects.filter(branch_id__in=branch_ids)
        .values("branch_id")
        .annotate(
            new=Count("id", filter=Q(created_at__gte=since)),
            submitted=Count("id", filter=Q(status=Status.SUBMITTED)),
            dispatched=Count("id", filter=Q(status=Status.DISPATCHED)),
            held=Count("id", filter=Q(status__in=[Status.CLAIMED, Status.IN_PROGRESS])),
            completed=Count("id", filter=Q(completed_at__gte=since)),
            escalated=Count("id", filter=Q(escalated_at__gte=since)),
        )
    }
    overdue: dict[int, int] = {}
    for step in _OVERDUE_STEPS:
        for bid in (
            due_orders(step, now=now, sla=sla).filter(branch_id__in=branch_ids).values_list("branch_id", flat=True)
        ):
            overdue[bid] = overdue.get(bid, 0) + 1
    lines = []
    for branch in Branch.objects.filter(pk__in=branch_ids).order_by("name"):
        c = counts.get(branch.pk, {})
        lines.append(
            _(
                "%(branch)s: %(new)d new in 24 h, %(submitted)d waiting for review, %(dispatched)d offered, "
                "%(held)d with volunteers, %(completed)d completed in 24 h, %(escalated)d escalated in 24 h, "
                "%(overdue)d past their deadline."
            )
            % {
                "branch": branch.name,
                "new": c.get("new", 0),
                "submitted": c.get("submitted", 0),
                "dispatched": c.get("dispatched", 0),
                "held": c.get("held", 0),
                "completed": c.get("completed", 0),
                "escalated": c.get("escalated", 0),
                "overdue": overdue.get(branch.pk, 0),
            }
        )
    return lines


def desk_digest_send(*, now: datetime | None = None) -> int:
    """Email every secretary and staff member (with an address and email on) their digest.
    Returns how many emails went out."""
    now = now or timezone.now()
    sla = Sla.load()
    users = list(
        get_user_model()
        .objects.filter(Q(secretary_of__isnull=False) | Q(staff_areas__isnull=False))
        .exclude(email="")
        .distinct()
    )
    prefs = prefs_for_many([u.pk for u in users])
    sent = 0
    for user in users:
        if not prefs[user.pk].email:
            continue
        branches = desk_branch_ids(user)
        if not branches:
            continue
        lines = _branch_lines(branches, now=now, sla=sla)
        day = timezone.localtime(now).date().isoformat()
        subject = _("Sandan desk digest for %(day)s") % {"day": day}
        email_send(to=user.email, subject=subject, body="\n".join([subject, "", *lines]))
        sent += 1
    return sent


def digest_send_if_due(*, now: datetime) -> int | None:
    """Send today's digest if it is past the digest hour and no worker has sent it yet.

    The DigestRun row is inserted in the same transaction as the sending: a concurrent worker
    waits on the unique key and then finds the day taken; a worker that dies mid-way rolls the
    row back, so another sends the digest (at least once, never skipped)."""
    hour = settings.SANDAN_TIMERS["DIGEST_HOUR"]
    local = timezone.localtime(now)
    if hour < 0 or local.hour < hour:
        return None
    if DigestRun.objects.filter(day=local.date()).exists():
        return None
    try:
        with transaction.atomic():
            run = DigestRun.objects.create(day=local.date())
            run.sent = desk_digest_send(now=now)
            run.save(update_fields=["sent"])
            return run.sent
    except IntegrityError:
        return None
