"""Offers: who may be offered an order, making offers, and closing them.

Every row of `Offer` is written here, always inside the transaction of an orders service
that holds the order row (dispatch, claim, decline, recall, release, widen), so the offers
of an order never change under a service that is deciding about it.

The rules that live here and nowhere else:
- capacity: a volunteer holds at most `capacity` orders; what they hold is counted on their
  record (`VolunteerRecord.held`, kept by the lifecycle in the same transactions as the
  orders it counts). `free_capacity` is the one reading of it, for the desk's named
  volunteers, a claim (under the volunteer's row lock) and a batch.
- who may be offered an order by name (`check_offerable`): a member of a branch in the
  order's street, not the requester, not someone who declined or let an offer lapse, with
  free capacity;
- how far away an offer says the order is (`core.geo.shown_distance_m`, rounded to 100 m:
  an offer carries nothing more precise about the resident).
Ranking (who is offered an order when the desk does not name them) is the matcher's: orders
asks it through `ranked`, which `matching` registers when the app starts (`use_ranker`), so
that the matcher may read orders while orders never imports the matcher.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from core.geo import distance_m, shown_distance_m
from notifications.events import publish, publish_each
from orders.errors import InvalidInput
from orders.models import Offer, Order
from orders.payloads import offer_payload
from orders.records import record_add
from volunteers.models import Area, Volunteer, VolunteerRecord

# Offers that keep the volunteer from being offered the order again.
REFUSED = (Offer.Status.DECLINED, Offer.Status.EXPIRED)


# --- the matcher, as orders sees it ------------------------------------------------------------


class Ranked(Protocol):
    """A ranked volunteer: who, and how far from the order (metres, as the matcher measured)."""

    @property
    def volunteer_id(self) -> int: ...

    @property
    def distance_m(self) -> float: ...


class Ranker(Protocol):
    def __call__(self, order: Order, *, limit: int, exclude: Collection[int] = ()) -> Sequence[Ranked]: ...


_ranker: Ranker | None = None


def use_ranker(ranker: Ranker) -> None:
    """Register the matcher (matching's AppConfig.ready does, once per process)."""
    global _ranker
    _ranker = ranker


def ranked(order: Order, *, limit: int, exclude: Collection[int] = ()) -> list[Ranked]:
    """The volunteers who may take the order, best first, at most `limit`, none of `exclude`."""
    if _ranker is None:
        raise ImproperlyConfigured("No ranker registered: is the matching app installed?")
    return list(_ranker(order, limit=limit, exclude=exclude))


# --- capacity ----------------------------------------------------------------------------------


def free_capacity(volunteers: Iterable[Volunteer]) -> dict[int, int]:
    """How many more orders each volunteer may hold now (may be negative after a capacity cut).

    Read from their record; inside a claim it is read after the volunteer's row lock, so no
    concurrent claim of theirs can be counted twice or missed."""
    volunteers = list(volunteers)
    held = dict(VolunteerRecord.objects.filter(pk__in=[v.pk for v in volunteers]).values_list("volunteer_id", "held"))
    return {v.pk: v.capacity - held.get(v.pk, 0) for v in volunteers}


# --- who may be offered an order ---------------------------------------------------------------


def _street_of(area_id: int) -> Subquery:
    """The street above an area (or the area itself if it is one), as a subquery."""
    street = Coalesce("parent__parent_id", "parent_id", "id")
    return Subquery(Area.objects.filter(pk=area_id).order_by().values(street=street)[:1])


def refused_by(order: Order) -> set[int]:
    """Volunteers who declined the order or let an offer of it lapse."""
    return set(Offer.objects.filter(order=order, status__in=REFUSED).values_list("volunteer_id", flat=True))


def offered_to(order: Order) -> set[int]:
    """Every volunteer ever offered the order, whatever became of the offer."""
    return set(Offer.objects.filter(order=order).values_list("volunteer_id", flat=True))


def check_offerable(order: Order, volunteer_ids: list[int], field: str) -> list[Volunteer]:
    """Volunteers a secretary names must be real, inside the street, not the requester, not
    already refused this order and with free capacity. One query for the facts of all of
    them (a pool of 20) and one for their load; the claim counts again under its lock."""
    street = _street_of(order.branch.area_id)
    in_street = Volunteer.branches.through.objects.filter(volunteer_id=OuterRef("pk")).filter(
        Q(branch__area_id=street) | Q(branch__area__parent_id=street) | Q(branch__area__parent__parent_id=street)
    )
    refused = Offer.objects.filter(order=order, volunteer_id=OuterRef("pk"), status__in=REFUSED)
    found = Volunteer.objects.filter(pk__in=volunteer_ids).annotate(
        in_street=Exists(in_street), refused=Exists(refused)
    )
    volunteers = {v.pk: v for v in found}
    free = free_capacity(volunteers.values())
    errors = []
    for vid in volunteer_ids:
        v = volunteers.get(vid)
        if v is None or not v.in_street:  # type: ignore[attr-defined]
            errors.append(_("Volunteer %(id)s is not a member of a branch in this street.") % {"id": vid})
        elif v.user_id == order.resident_id:
            errors.append(_("Volunteer %(id)s asked for this help and cannot take it.") % {"id": vid})
        elif v.refused:  # type: ignore[attr-defined]
            errors.append(_("Volunteer %(id)s has already turned this order down.") % {"id": vid})
        elif free[vid] <= 0:
            errors.append(_("Volunteer %(id)s has no free capacity.") % {"id": vid})
    if errors:
        raise InvalidInput(fields={field: errors})
    return [volunteers[vid] for vid in volunteer_ids]


# --- making and closing offers -----------------------------------------------------------------


def _where(v: Volunteer) -> tuple[float, float]:
    if v.live_lat is not None and v.live_lng is not None:
        return v.live_lat, v.live_lng
    return v.base_lat, v.base_lng


def offers_make(
    order: Order,
    volunteers: list[Volunteer],
    mode: str,
    *,
    ranks: dict[int, int] | None = None,
    distances: dict[int, float] | None = None,
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> list[Offer]:
    """Offer the order (whose row the caller holds) to `volunteers`, and tell each of them.

    `distances`: the matcher's, where it ranked them; otherwise measured here. `at`: the
    clock the caller runs on (the timers' step clock), if not now."""
    offers = []
    for position, v in enumerate(volunteers, start=1):
        d = (distances or {}).get(v.pk)
        if d is None:
            d = distance_m(order.lat, order.lng, *_where(v))
        rank = (ranks or {}).get(v.pk, position)
        offers.append(
            Offer(order=order, volunteer=v, mode=mode, rank=rank, distance_m=shown_distance_m(d), expires_at=expires_at)
        )
    created = Offer.objects.bulk_create(offers)
    if at is not None:
        # created_at is set on insert; the timers count the next period from their own clock.
        Offer.objects.filter(pk__in=[o.pk for o in created]).update(created_at=at)
    for offer in created:
        offer.order = order
        if at is not None:
            offer.created_at = at
    # One INSERT for all offer events (each carries its own offer id and distance).
    publish_each(
        kind="offer.new",
        items=[(v.user_id, offer_payload(offer)) for offer, v in zip(created, volunteers, strict=True)],
        order_id=order.pk,
        notify=(_("New request near you: %(category)s") % {"category": order.category.name}, ""),
    )
    return created


def offers_withdraw(order: Order, *, except_offer: int | None = None) -> None:
    """Close the order's open offers and make them vanish from the volunteers' phones."""
    offers = Offer.objects.filter(order=order, status=Offer.Status.OPEN)
    if except_offer is not None:
        offers = offers.exclude(pk=except_offer)
    user_ids = list(offers.values_list("volunteer__user_id", flat=True))
    offers.update(status=Offer.Status.WITHDRAWN, closed_at=timezone.now())
    if user_ids:
        publish(recipients=user_ids, kind="offer.withdrawn", payload={"order": order.pk}, order_id=order.pk)


def offers_lapse(order: Order, *, at: datetime) -> list[int]:
    """Nobody took the open offers in time: they lapse (EXPIRED, like DECLINED, keeps the
    volunteer from being offered the order again) and count as dropped on each record.
    Returns the volunteers whose offers lapsed."""
    lapsed = Offer.objects.filter(order=order, status=Offer.Status.OPEN)
    rows = list(lapsed.values_list("volunteer_id", "volunteer__user_id"))
    lapsed.update(status=Offer.Status.EXPIRED, closed_at=at)
    for volunteer_id in sorted({vid for vid, _uid in rows}):  # in id order: no lock cycle
        record_add(volunteer_id=volunteer_id, dropped=1)
    publish(
        recipients=[uid for _vid, uid in rows],
        kind="offer.withdrawn",
        payload={"order": order.pk, "reason": "expired"},
        order_id=order.pk,
    )
    return [vid for vid, _uid in rows]


def offer_open_for(order: Order, volunteer: Volunteer) -> Offer | None:
    return Offer.objects.filter(order=order, volunteer=volunteer, status=Offer.Status.OPEN).first()


def offers_open_exist(order: Order) -> bool:
    return Offer.objects.filter(order=order, status=Offer.Status.OPEN).exists()
