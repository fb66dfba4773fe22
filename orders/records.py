"""The volunteers' records as the lifecycle keeps them: orders held, finished, offers dropped,
ratings. The counts mean what the lifecycle says (which states are held, which offers were
dropped), so they are defined here; the record rows themselves are written by volunteers'
services, through `volunteer_record_add` (every change, in the lifecycle's transaction) and
`volunteer_records_rebuild` (a recount, after an import or when the counts are in doubt)."""

from __future__ import annotations

from orders.models import Offer, Order, Rating
from orders.states import HELD, Status
from volunteers.services import RecordSources, volunteer_record_add, volunteer_records_rebuild


def record_sources() -> RecordSources:
    return RecordSources(
        order_table=Order._meta.db_table,
        offer_table=Offer._meta.db_table,
        rating_table=Rating._meta.db_table,
        held=tuple(sorted(s.value for s in HELD)),
        finished=(Status.COMPLETED.value, Status.CLOSED.value),
        dropped=(Offer.Status.DECLINED.value, Offer.Status.EXPIRED.value),
    )


def record_add(
    *, volunteer_id: int, held: int = 0, finished: int = 0, dropped: int = 0, rating: int | None = None
) -> None:
    """Count one change on the volunteer's record; a volunteer without one yet (first order
    ever, or imported history) gets one recounted from the tables, which already hold the
    caller's change."""
    if not volunteer_record_add(
        volunteer_id=volunteer_id, held=held, finished=finished, dropped=dropped, rating=rating
    ):
        volunteer_records_recount(volunteer_ids=[volunteer_id])


def volunteer_records_recount(*, volunteer_ids: list[int] | None = None) -> int:
    """Recount the records of the given volunteers, or of all of them."""
    return volunteer_records_rebuild(sources=record_sources(), volunteer_ids=volunteer_ids)
