"""What people read for machine names: states, actions, error codes (translated)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

STATUS_LABELS = {
    "submitted": gettext_lazy("Waiting for review"),
    "accepted": gettext_lazy("Accepted by the branch"),
    "dispatched": gettext_lazy("Looking for a volunteer"),
    "claimed": gettext_lazy("Volunteer on the way"),
    "in_progress": gettext_lazy("In progress"),
    "completed": gettext_lazy("Done — please confirm"),
    "closed": gettext_lazy("Closed"),
    "rejected": gettext_lazy("Not taken on"),
    "cancelled": gettext_lazy("Cancelled"),
    "merged": gettext_lazy("Merged: a duplicate"),
}

ACTION_LABELS = {
    "submit": gettext_lazy("Submitted"),
    "accept": gettext_lazy("Accepted"),
    "reject": gettext_lazy("Rejected"),
    "transfer": gettext_lazy("Transferred"),
    "cancel": gettext_lazy("Cancelled"),
    "dispatch": gettext_lazy("Dispatched to volunteers"),
    "claim": gettext_lazy("Claimed by a volunteer"),
    "decline": gettext_lazy("Declined by a volunteer"),
    "recall": gettext_lazy("Recalled to the desk"),
    "release": gettext_lazy("Released by the volunteer"),
    "start": gettext_lazy("Work started"),
    "complete": gettext_lazy("Completed"),
    "confirm": gettext_lazy("Confirmed and rated"),
    "reopen": gettext_lazy("Reopened"),
    "cascade": gettext_lazy("Offered to the next volunteer"),
    "escalate": gettext_lazy("Escalated"),
    "follow": gettext_lazy("A neighbour has the same need (+1)"),
    "merge": gettext_lazy("Merged into another request"),
    "merge_in": gettext_lazy("A duplicate was merged in"),
}

ACTION_DONE = {
    "accept": gettext_lazy("Accepted."),
    "reject": gettext_lazy("Rejected."),
    "transfer": gettext_lazy("Transferred."),
    "cancel": gettext_lazy("Cancelled."),
    "dispatch": gettext_lazy("Dispatched."),
    "claim": gettext_lazy("It's yours!"),
    "decline": gettext_lazy("Declined."),
    "recall": gettext_lazy("Recalled."),
    "release": gettext_lazy("Released."),
    "start": gettext_lazy("Started."),
    "complete": gettext_lazy("Marked as done. Thank you!"),
    "confirm": gettext_lazy("Thank you for your rating."),
    "reopen": gettext_lazy("Reopened."),
    "merge": gettext_lazy("Merged as a duplicate."),
}

URGENCY_LABELS = {
    "low": pgettext_lazy("urgency", "Low"),
    "normal": pgettext_lazy("urgency", "Normal"),
    "high": pgettext_lazy("urgency", "High"),
    "urgent": pgettext_lazy("urgency", "Urgent"),
}

# An offer's state as the desk reads it (orders.models.Offer.Status).
OFFER_STATE_LABELS = {
    "open": gettext_lazy("waiting for an answer"),
    "claimed": gettext_lazy("took it"),
    "declined": gettext_lazy("declined"),
    "withdrawn": gettext_lazy("withdrawn"),
    "expired": gettext_lazy("lapsed: no answer in time"),
}

MODE_LABELS = {
    "direct": gettext_lazy("direct"),
    "pool": gettext_lazy("pool"),
    "broadcast": gettext_lazy("broadcast"),
    "batch": gettext_lazy("batch"),
}

# The matcher's score components (matching.ranking), as the secretary reads them.
REASON_LABELS = {
    "skill": pgettext_lazy("match reason", "skills"),
    "distance": pgettext_lazy("match reason", "nearby"),
    "load": pgettext_lazy("match reason", "free now"),
    "fairness": pgettext_lazy("match reason", "fair share"),
    "reliability": pgettext_lazy("match reason", "reliable"),
    "rating": pgettext_lazy("match reason", "well rated"),
}

SCOPE_LABELS = {
    "branch": gettext_lazy("own branch"),
    "community": gettext_lazy("same community"),
    "street": gettext_lazy("same street"),
}


def error_message(error: Exception) -> str:
    """A domain error as a sentence for the person who caused it (never personal data)."""
    code = getattr(error, "code", "")
    fields = getattr(error, "fields", None)
    if fields:
        return " ".join(str(m) for messages in fields.values() for m in messages)
    by_code = {
        "already_claimed": _("Someone was faster: another volunteer has taken this order."),
        "invalid_transition": _("This is no longer possible: the order has moved on."),
        "capacity_reached": _("You already hold as many orders as you can take."),
        "no_candidates": _("No volunteer is available for this dispatch."),
        "not_permitted": _("You may not do this for this order."),
        "not_found": _("No such order."),
    }
    if code in by_code:
        return by_code[code]
    return str(getattr(error, "message", "")) or _("Something went wrong.")
