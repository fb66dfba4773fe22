"""Every write to an order: one service per lifecycle action (DESIGN.md, "Order lifecycle").

How they stay correct under concurrency:
- A transition is a conditional UPDATE on the order row (`WHERE id = … AND status = <the
  status we read>` plus the facts the permission check relied on, e.g. the branch or the
  assigned volunteer) and a check of the row count. Two callers cannot both win: the second
  UPDATE finds the row changed and matches nothing.
- Lock order is always volunteer row (claim only) → order row → offer rows, so concurrent
  claims, recalls and declines cannot deadlock.
- The change, its timeline row (`OrderEvent`) and its outbox events commit together; the
  push to phones happens after commit (`notifications.events.publish`).
On SQLite the same code runs inside IMMEDIATE transactions, which serialise writers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from matching.services import rank_for_order
from notifications.events import publish, publish_each
from notifications.models import Event
from orders.errors import (
    AlreadyClaimed,
    CapacityReached,
    InvalidInput,
    InvalidTransition,
    NoCandidates,
    NotPermitted,
    OrderError,
    OrderNotFound,
)
from orders.models import Category, IdempotencyKey, Offer, Order, OrderEvent, Rating
from orders.payloads import event_payload, offer_payload, order_payload
from orders.selectors import desk_branch_ids, roles_for, roles_of, with_roles
from orders.states import HELD, TRANSITIONS, Role, Status, may
from timebank.services import timebank_credit_order
from volunteers.models import Area, Branch, Volunteer
from volunteers.selectors import branch_for_area, distance_m, grid_for_point
from volunteers.services import volunteer_record_add

SYSTEM_ROLES = frozenset({Role.SYSTEM})

# What the resident is told (stored in the notification centre) when someone else moves
# their order; other transitions only update the live timeline.
_RESIDENT_NOTICES = {
    "accept": lambda: _("Your request has been accepted by the branch."),
    "reject": lambda: _("Your request could not be taken on."),
    "transfer": lambda: _("Your request was passed to another branch."),
    "claim": lambda: _("A volunteer has taken your request."),
    "start": lambda: _("The volunteer has started on your request."),
    "complete": lambda: _("Your request is done; please confirm and rate it."),
    "cancel": lambda: _("Your request was cancelled."),
}


# --- internals ---------------------------------------------------------------------------------


def _load(order_id: int, user) -> tuple[Order, set[Role]]:
    """The order and the caller's roles on it, in one read; 404 when the caller has none (as
    `order_get_for`, with the services' lighter read)."""
    if user is None:
        return _fetch(order_id), set(SYSTEM_ROLES)
    order = _fetch(order_id, viewer=user)
    roles = roles_of(user, order)
    if not roles:
        raise OrderNotFound()
    return order, roles


def _fetch(order_id: int, *, viewer=None) -> Order:
    # What services and payloads read, no more: each further join (the volunteer's and the
    # resident's user rows) and the model's ordering cost ORM and planner time on every
    # transition; 2.2 instead of 7.5 ms a call measured (docs/performance.md, Realtime).
    orders = Order.objects.select_related("category", "branch__area", "volunteer", "grid")
    if viewer is not None:
        orders = with_roles(orders, viewer)  # the viewer's roles come with the row
    order = orders.filter(pk=order_id).order_by().first()
    if order is None:
        raise OrderNotFound()
    return order


def _check(action: str, order: Order, roles: set[Role]) -> None:
    """Permission first, then state: someone without the role learns nothing about the state."""
    if not may(action, roles):
        raise NotPermitted()
    if Status(order.status) not in TRANSITIONS[action].sources:
        raise InvalidTransition()


def _move(
    order: Order,
    action: str,
    *,
    guard: Q | None = None,
    fields: dict[str, Any] | None = None,
    lost: type[OrderError] = InvalidTransition,
) -> None:
    """The conditional UPDATE. `guard` restates what the permission check relied on."""
    target = TRANSITIONS[action].target
    condition = Q(pk=order.pk, status=order.status) & (guard or Q())
    won = Order.objects.filter(condition).update(**{"status": target, "updated_at": timezone.now(), **(fields or {})})
    if won != 1:
        raise lost()


def _record(order: Order, action: str, from_status: str, actor, note: str = "", data: dict | None = None) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        action=action,
        from_status=from_status,
        to_status=order.status,
        actor=actor,
        note=note,
        data=data or {},
    )


def _announce(order: Order, event: OrderEvent, actor) -> None:
    """Tell everyone entitled to the full order about a timeline change."""
    recipients = {order.resident_id}
    recipients |= set(order.branch.secretaries.values_list("id", flat=True))
    if order.volunteer is not None:
        recipients.add(order.volunteer.user_id)
    payload = {"order": order_payload(order, personal=True), "event": event_payload(event)}
    publish(recipients=recipients, kind="order.updated", payload=payload, order_id=order.pk)
    notice = _RESIDENT_NOTICES.get(event.action)
    if notice is not None and (actor is None or actor.pk != order.resident_id):
        publish(
            recipients=[order.resident_id],
            kind="order.notice",
            payload={"order": order.pk, "action": event.action, "status": order.status},
            order_id=order.pk,
            notify=(notice(), event.note),
        )


def _finish(
    order: Order,
    action: str,
    from_status: str,
    actor,
    note: str = "",
    data: dict | None = None,
    *,
    reread: bool = True,
) -> Order:
    """The timeline row and its announcement. `reread=False` when the caller's `order` already
    holds every value its UPDATE wrote (a dispatch, on the hot path of an offer)."""
    fresh = _fetch(order.pk) if reread else order
    event = _record(fresh, action, from_status, actor, note, data)
    _announce(fresh, event, actor)
    return fresh


_PERSONAL_KEYS = ("address", "contact_phone", "lat", "lng")


def _forget_personal_data(order: Order, user_id: int) -> None:
    """A volunteer who no longer holds the order loses its address and phone everywhere,
    including the outbox: a resume from an old cursor must not hand them back."""
    events = list(Event.objects.filter(recipient_id=user_id, order_id=order.pk))
    for event in events:
        inner = event.payload.get("order") if isinstance(event.payload, dict) else None
        if isinstance(inner, dict):
            for key in _PERSONAL_KEYS:
                inner.pop(key, None)
    Event.objects.bulk_update(events, ["payload"])


def _reason(reason: str | None, field: str = "reason") -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(fields={field: [_("A reason is required.")]})
    return text


def _held_count(volunteer_id: int) -> int:
    return Order.objects.filter(volunteer_id=volunteer_id, status__in=[s.value for s in HELD]).count()


def _volunteer_location(v: Volunteer) -> tuple[float, float]:
    if v.live_lat is not None and v.live_lng is not None:
        return v.live_lat, v.live_lng
    return v.base_lat, v.base_lng


def _withdraw_offers(order: Order, *, except_offer: int | None = None, status: str = Offer.Status.WITHDRAWN) -> None:
    """Close the order's open offers and make them vanish from the volunteers' phones."""
    offers = Offer.objects.filter(order=order, status=Offer.Status.OPEN)
    if except_offer is not None:
        offers = offers.exclude(pk=except_offer)
    user_ids = list(offers.values_list("volunteer__user_id", flat=True))
    offers.update(status=status, closed_at=timezone.now())
    if user_ids:
        publish(recipients=user_ids, kind="offer.withdrawn", payload={"order": order.pk}, order_id=order.pk)


def _make_offers(
    order: Order, volunteers: list[Volunteer], mode: str, *, ranks: dict[int, int] | None = None
) -> list[Offer]:
    now = timezone.now()
    offers = []
    for position, v in enumerate(volunteers, start=1):
        lat, lng = _volunteer_location(v)
        rounded = int(round(distance_m(order.lat, order.lng, lat, lng) / 100.0) * 100)
        offers.append(
            Offer(
                order=order,
                volunteer=v,
                mode=mode,
                rank=(ranks or {}).get(v.pk, position),
                distance_m=rounded,
                created_at=now,
            )
        )
    created = Offer.objects.bulk_create(offers)
    for offer in created:
        offer.order = order
    # One INSERT for all offer events (each carries its own offer id and distance).
    publish_each(
        kind="offer.new",
        items=[(v.user_id, offer_payload(offer)) for offer, v in zip(created, volunteers, strict=True)],
        order_id=order.pk,
        notify=(_("New request near you: %(category)s") % {"category": order.category.name}, ""),
    )
    return created


def _street_of(area_id: int) -> Subquery:
    """The street above an area (or the area itself if it is one), as a subquery."""
    street = Coalesce("parent__parent_id", "parent_id", "id")
    return Subquery(Area.objects.filter(pk=area_id).order_by().values(street=street)[:1])


def _check_offerable(order: Order, volunteer_ids: list[int], field: str) -> list[Volunteer]:
    """Volunteers a secretary names must be real, inside the street, not the requester, not
    already refused this order and below capacity. One query for all of them (a pool of 20):
    membership of a branch anywhere in the street, a refused offer, and the load from their
    record (the claim counts again under its lock)."""
    street = _street_of(order.branch.area_id)
    in_street = Volunteer.branches.through.objects.filter(volunteer_id=OuterRef("pk")).filter(
        Q(branch__area_id=street) | Q(branch__area__parent_id=street) | Q(branch__area__parent__parent_id=street)
    )
    refused = Offer.objects.filter(
        order=order, volunteer_id=OuterRef("pk"), status__in=[Offer.Status.DECLINED, Offer.Status.EXPIRED]
    )
    found = (
        Volunteer.objects.filter(pk__in=volunteer_ids)
        .select_related("record")
        .annotate(in_street=Exists(in_street), refused=Exists(refused))
    )
    volunteers = {v.pk: v for v in found}
    in_scope = {v.pk for v in volunteers.values() if v.in_street}  # type: ignore[attr-defined]
    declined = {v.pk for v in volunteers.values() if v.refused}  # type: ignore[attr-defined]
    held = {v.pk: v.record.held for v in volunteers.values() if hasattr(v, "record")}
    errors = []
    for vid in volunteer_ids:
        v = volunteers.get(vid)
        if v is None or vid not in in_scope:
            errors.append(_("Volunteer %(id)s is not a member of a branch in this street.") % {"id": vid})
        elif v.user_id == order.resident_id:
            errors.append(_("Volunteer %(id)s asked for this help and cannot take it.") % {"id": vid})
        elif vid in declined:
            errors.append(_("Volunteer %(id)s has already turned this order down.") % {"id": vid})
        elif held.get(vid, 0) >= v.capacity:
            errors.append(_("Volunteer %(id)s has no free capacity.") % {"id": vid})
    if errors:
        raise InvalidInput(fields={field: errors})
    return [volunteers[vid] for vid in volunteer_ids]


# --- submit ------------------------------------------------------------------------------------


class IdempotencyConflict(OrderError):
    status_code = 409
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used for a different request."


@dataclass(frozen=True)
class OrderInput:
    category: str
    description: str
    lat: float | None = None
    lng: float | None = None
    address: str | None = None
    contact_phone: str | None = None
    urgency: str = Order.Urgency.NORMAL
    window_start: datetime | None = None
    window_end: datetime | None = None

    def fingerprint(self) -> str:
        raw = json.dumps(self.__dict__, default=str, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()


def order_content_check(*, description: str, attachment_kinds: Collection[str] = ()) -> None:
    """An order says what is needed: in words, or with a voice note or a photo instead (a
    resident who cannot type records it). The one rule for the API, the pages and Open311."""
    if not (description or "").strip() and not attachment_kinds:
        raise InvalidInput(fields={"description": [_("Describe what you need, or add a voice message or a photo.")]})


def order_submit(
    *,
    resident,
    data: OrderInput,
    submitted_by=None,
    idempotency_key: str | None = None,
    source: str | None = None,
    attachments: Sequence[tuple[str, UploadedFile]] = (),
) -> tuple[Order, bool]:
    """居民點單: create a submitted order routed to the branch of the resident's grid.

    `source` names where the request came from when not from Sandan's own apps (e.g. an
    Open311 client); it is written on the submit event of the timeline. `attachments`
    ((kind, file) pairs: "photo", "voice") are attached in the same transaction: the order
    and its recording land together or not at all, and a voice note may stand for the text.

    Returns (order, created). With an Idempotency-Key a retry returns the first order and
    never creates a second: the key's unique constraint decides between concurrent retries.
    """
    order_content_check(description=data.description, attachment_kinds=[kind for kind, _file in attachments])
    # The key belongs to whoever sent the request: a desk entering requests for several
    # residents keys them in its own space, so which resident is part of what must match.
    caller = submitted_by or resident
    fingerprint = hashlib.sha256(f"{resident.pk}:{data.fingerprint()}".encode()).hexdigest()
    if idempotency_key:
        hit = _idempotent_hit(caller, idempotency_key, fingerprint)
        if hit is not None:
            return hit, False
    try:
        with transaction.atomic():
            order = _create_order(resident=resident, data=data, submitted_by=submitted_by, source=source)
            for kind, upload in attachments:
                _attach_on_submit(order, resident, kind, upload)
            if idempotency_key:
                IdempotencyKey.objects.create(user=caller, key=idempotency_key, request_hash=fingerprint, order=order)
    except IntegrityError:
        if idempotency_key:
            hit = _idempotent_hit(caller, idempotency_key, fingerprint)
            if hit is not None:
                return hit, False
        raise
    return order, True


def _attach_on_submit(order: Order, resident, kind: str, upload: UploadedFile) -> None:
    # Attached as the requester (the only person an order may be submitted with files for);
    # a file that is not what it claims is that file's error, by its own name.
    from orders.attachments import order_attach

    try:
        order_attach(order_id=order.pk, user=resident, kind=kind, upload=upload)
    except InvalidInput as error:
        raise InvalidInput(fields={kind: [m for ms in (error.fields or {}).values() for m in ms]}) from None


def _idempotent_hit(user, key: str, fingerprint: str) -> Order | None:
    record = IdempotencyKey.objects.filter(user=user, key=key).select_related("order").first()
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyConflict()
    return record.order


def _create_order(*, resident, data: OrderInput, submitted_by, source: str | None = None) -> Order:
    category = Category.objects.filter(code=data.category, active=True).first()
    if category is None:
        raise InvalidInput(fields={"category": [_("Unknown category.")]})
    profile = getattr(resident, "resident", None)
    lat = data.lat if data.lat is not None else getattr(profile, "lat", None)
    lng = data.lng if data.lng is not None else getattr(profile, "lng", None)
    if lat is None or lng is None:
        raise InvalidInput(fields={"lat": [_("A location is required: none is on your profile.")]})
    if data.window_start and data.window_end and data.window_end <= data.window_start:
        raise InvalidInput(fields={"window_end": [_("The end of the window must be after its start.")]})
    grid = grid_for_point(lat, lng)
    branch = branch_for_area(grid) if grid is not None else None
    if branch is None:
        raise InvalidInput(fields={"lat": [_("No branch serves this location.")]})
    if submitted_by is not None and branch.pk not in desk_branch_ids(submitted_by):
        # Otherwise the desk would create an order it cannot see, answer 404 and invite a retry.
        raise InvalidInput(fields={"resident": [_("This request belongs to a branch you do not serve.")]})
    order = Order.objects.create(
        resident=resident,
        submitted_by=submitted_by,
        category=category,
        description=data.description,
        lat=lat,
        lng=lng,
        address=data.address if data.address is not None else getattr(profile, "address", ""),
        contact_phone=data.contact_phone if data.contact_phone is not None else getattr(profile, "phone", ""),
        urgency=data.urgency,
        window_start=data.window_start,
        window_end=data.window_end,
        grid=grid,
        branch=branch,
        status=Status.SUBMITTED,
    )
    order = _fetch(order.pk)
    note = _("Entered by staff on the resident's behalf.") if submitted_by else ""
    if source:
        note = _("Filed through %(source)s.") % {"source": source}
    event = _record(order, "submit", "", submitted_by or resident, note, {"source": source} if source else None)
    _announce(order, event, submitted_by or resident)
    publish(
        recipients=order.branch.secretaries.values_list("id", flat=True),
        kind="desk.new_order",
        payload={"order": order_payload(order, personal=True)},
        order_id=order.pk,
        notify=(_("New request: %(category)s") % {"category": category.name}, ""),
    )
    return order


# --- review ------------------------------------------------------------------------------------


@transaction.atomic
def order_accept(*, order_id: int, user) -> Order:
    """支部下單, first half: the routed branch takes the order on."""
    order, roles = _load(order_id, user)
    _check("accept", order, roles)
    _move(order, "accept", guard=Q(branch_id=order.branch_id), fields={"reviewed_at": timezone.now()})
    return _finish(order, "accept", order.status, user)


@transaction.atomic
def order_reject(*, order_id: int, user, reason: str) -> Order:
    order, roles = _load(order_id, user)
    _check("reject", order, roles)
    note = _reason(reason)
    _move(order, "reject", guard=Q(branch_id=order.branch_id), fields={"reviewed_at": timezone.now()})
    return _finish(order, "reject", order.status, user, note)


@transaction.atomic
def order_transfer(
    *, order_id: int, user, reason: str, branch_id: int | None = None, area_id: int | None = None
) -> Order:
    """Hand the order to another branch (or the branch of another area); it is reviewed anew there."""
    order, roles = _load(order_id, user)
    _check("transfer", order, roles)
    note = _reason(reason)
    if branch_id is not None:
        target = Branch.objects.filter(pk=branch_id).first()
        if target is None:
            raise InvalidInput(fields={"branch": [_("Unknown branch.")]})
    elif area_id is not None:
        area = Area.objects.filter(pk=area_id).first()
        target = branch_for_area(area) if area is not None else None
        if target is None:
            raise InvalidInput(fields={"area": [_("No branch serves that area.")]})
    else:
        raise InvalidInput(fields={"branch": [_("Name a branch or an area to transfer to.")]})
    if target.pk == order.branch_id:
        raise InvalidInput(fields={"branch": [_("The order is already at that branch.")]})
    _move(
        order,
        "transfer",
        guard=Q(branch_id=order.branch_id),
        fields={"branch_id": target.pk, "reviewed_at": None},
    )
    fresh = _finish(
        order, "transfer", order.status, user, note, {"from_branch": order.branch_id, "to_branch": target.pk}
    )
    publish(
        recipients=target.secretaries.values_list("id", flat=True),
        kind="desk.new_order",
        payload={"order": order_payload(fresh, personal=True)},
        order_id=fresh.pk,
        notify=(_("Request transferred to your branch"), note),
    )
    return fresh


@transaction.atomic
def order_cancel(*, order_id: int, user, reason: str = "") -> Order:
    order, roles = _load(order_id, user)
    _check("cancel", order, roles)
    note = (reason or "").strip()
    guard = None
    if Role.RESIDENT not in roles:
        note = _reason(reason)  # the desk must say why it cancels someone's request
        # The desk's right came from the branch it read: a transfer that landed meanwhile
        # makes the order another desk's to cancel.
        guard = Q(branch_id=order.branch_id)
    _move(order, "cancel", guard=guard)
    return _finish(order, "cancel", order.status, user, note)


# --- dispatch ----------------------------------------------------------------------------------


@transaction.atomic
def order_dispatch(
    *,
    order_id: int,
    user,
    mode: str,
    volunteer: int | None = None,
    volunteers: list[int] | None = None,
    top: int | None = None,
) -> Order:
    """支部下單, second half: offer the order to volunteers (direct, pool or broadcast)."""
    order, roles = _load(order_id, user)
    _check("dispatch", order, roles)
    chosen, ranks = _choose_for_dispatch(order, mode=mode, volunteer=volunteer, volunteers=volunteers, top=top)
    now = timezone.now()
    moved = {"dispatch_mode": mode, "dispatched_at": now, "updated_at": now}
    _move(order, "dispatch", guard=Q(branch_id=order.branch_id), fields=moved)
    # The order row is ours now: no concurrent dispatch or recall can interleave with the
    # offers, and what the UPDATE wrote is known, so the row need not be read again.
    order.status = Status.DISPATCHED
    for name, value in moved.items():
        setattr(order, name, value)
    _make_offers(order, chosen, mode, ranks=ranks)
    offered = {"mode": mode, "offered": [v.pk for v in chosen]}
    return _finish(order, "dispatch", Status.ACCEPTED, user, "", offered, reread=False)


def _choose_for_dispatch(
    order: Order, *, mode: str, volunteer: int | None, volunteers: list[int] | None, top: int | None
) -> tuple[list[Volunteer], dict[int, int] | None]:
    # A batch pair (matching.services.batch_confirm) is a direct offer recorded as "batch".
    if mode in (Order.DispatchMode.DIRECT, Order.DispatchMode.BATCH):
        if volunteer is None:
            raise InvalidInput(fields={"volunteer": [_("Name the volunteer to offer the order to.")]})
        return _check_offerable(order, [volunteer], "volunteer"), None
    if mode == Order.DispatchMode.POOL:
        if volunteers:
            return _check_offerable(order, list(dict.fromkeys(volunteers)), "volunteers"), None
        n = top or settings.SANDAN["POOL_DEFAULT_TOP"]
        ranked = rank_for_order(order, limit=n)
        if not ranked:
            raise NoCandidates()
        by_id = Volunteer.objects.in_bulk([r.volunteer_id for r in ranked])
        return [by_id[r.volunteer_id] for r in ranked], {r.volunteer_id: i for i, r in enumerate(ranked, 1)}
    if mode == Order.DispatchMode.BROADCAST:
        ranked = rank_for_order(order, limit=10_000)
        if not ranked:
            raise NoCandidates()
        by_id = Volunteer.objects.in_bulk([r.volunteer_id for r in ranked])
        return [by_id[r.volunteer_id] for r in ranked], {r.volunteer_id: i for i, r in enumerate(ranked, 1)}
    raise InvalidInput(fields={"mode": [_("Choose direct, pool or broadcast.")]})


@transaction.atomic
def order_recall(*, order_id: int, user, reason: str = "") -> Order:
    """Take a dispatched order back to the desk; every open offer vanishes."""
    order, roles = _load(order_id, user)
    _check("recall", order, roles)
    _move(order, "recall", guard=Q(branch_id=order.branch_id), fields={"dispatched_at": None, "dispatch_mode": ""})
    _withdraw_offers(order)
    return _finish(order, "recall", order.status, user, (reason or "").strip())


# --- volunteer actions -------------------------------------------------------------------------


@transaction.atomic
def order_claim(*, order_id: int, user) -> Order:
    """黨員接單: an offered volunteer takes the order. Exactly one claimant wins.

    The volunteer row is locked first (FOR NO KEY UPDATE: it serialises this volunteer's
    claims without blocking the offers and orders that merely reference the row), then the
    conditional UPDATE on the order row decides between concurrent claimants of the same
    order, then the offers. Capacity is counted after our UPDATE, under the volunteer lock:
    whatever was read before the lock may be stale, the count then cannot be.
    """
    volunteer = getattr(user, "volunteer", None)
    # One read for the order and "was I offered it": this is the hot path of a pool race.
    order = (
        Order.objects.select_related("branch__area")
        .annotate(offered=Exists(Offer.objects.filter(order=OuterRef("pk"), volunteer=volunteer)))
        .filter(pk=order_id)
        .order_by()
        .first()
    )
    if order is None:
        raise OrderNotFound()
    if volunteer is None or not order.offered:
        # Never offered: a stranger learns nothing (404); someone who sees the order, 403.
        if not roles_for(user, order):
            raise OrderNotFound()
        raise NotPermitted()
    if order.volunteer_id == volunteer.pk and order.status == Status.CLAIMED:
        return _fetch(order.pk)  # a retried tap: it is already theirs
    locked = Volunteer.objects.select_for_update(no_key=True).get(pk=volunteer.pk)
    now = timezone.now()
    won = Order.objects.filter(pk=order.pk, status=Status.DISPATCHED).update(
        status=Status.CLAIMED, volunteer=locked, claimed_at=now, updated_at=now
    )
    if won != 1:
        current = Order.objects.filter(pk=order.pk).values_list("status", "volunteer_id").first()
        if current == (Status.CLAIMED, volunteer.pk):
            return _fetch(order.pk)  # their own double tap won a moment ago
        if current and current[1] not in (None, volunteer.pk):
            raise AlreadyClaimed()
        raise InvalidTransition()
    # The order row is ours now, so its offers cannot change under us (dispatch, recall and
    # decline all take the order row first). Read the offer now, not before the lock.
    offer = Offer.objects.filter(order=order, volunteer=locked, status=Offer.Status.OPEN).first()
    if offer is None:
        # Their offer was declined or withdrawn while the order stayed dispatched: undo by raising.
        raise InvalidTransition(_("Your offer for this order is no longer open."))
    if _held_count(locked.pk) > locked.capacity:
        raise CapacityReached()
    Offer.objects.filter(pk=offer.pk).update(status=Offer.Status.CLAIMED, closed_at=now)
    _withdraw_offers(order, except_offer=offer.pk)
    volunteer_record_add(volunteer_id=locked.pk, held=1)
    fresh = _finish(order, "claim", Status.DISPATCHED, user)
    publish(
        recipients=[user.pk],
        kind="order.assigned",
        payload={"order": order_payload(fresh, personal=True)},
        order_id=fresh.pk,
        # The notification centre outlives the assignment (a release, a reopen): it names the
        # area only; the address stays in the order, shown while they hold it.
        notify=(
            _("The request is yours: %(category)s") % {"category": fresh.category.name},
            fresh.grid.name if fresh.grid is not None else "",
        ),
    )
    return fresh


@transaction.atomic
def order_decline(*, order_id: int, user, reason: str = "") -> Order:
    """An offered volunteer says no; they are never offered this order again. If nobody is
    left holding an offer, the cascade offers it to the next ranked volunteer."""
    order, roles = _load(order_id, user)
    _check("decline", order, roles)
    locked = Order.objects.select_for_update().filter(pk=order.pk, status=Status.DISPATCHED).first()
    if locked is None:
        raise InvalidTransition()
    offer = Offer.objects.filter(order=order, volunteer__user=user, status=Offer.Status.OPEN).first()
    if (
        offer is None
        or Offer.objects.filter(pk=offer.pk, status=Offer.Status.OPEN).update(
            status=Offer.Status.DECLINED, closed_at=timezone.now()
        )
        != 1
    ):
        raise InvalidTransition()
    volunteer_record_add(volunteer_id=offer.volunteer_id, dropped=1)
    event = _record(order, "decline", Status.DISPATCHED, user, (reason or "").strip())
    publish(
        recipients=order.branch.secretaries.values_list("id", flat=True),
        kind="order.updated",
        payload={"order": order_payload(order, personal=True), "event": event_payload(event)},
        order_id=order.pk,
    )
    return order_cascade(order_id=order.pk)


@transaction.atomic
def order_cascade(*, order_id: int) -> Order:
    """Keep a dispatched order moving when its offers run out: offer the next ranked
    volunteer, or, if there is none, hand it back to the desk (system recall)."""
    order = _fetch(order_id)
    if order.status != Status.DISPATCHED:
        return order
    Order.objects.select_for_update().filter(pk=order.pk).first()
    if Offer.objects.filter(order=order, status=Offer.Status.OPEN).exists():
        return order
    offered = Offer.objects.filter(order=order).values_list("volunteer_id", flat=True)
    ranked = rank_for_order(order, limit=1, exclude=set(offered))
    if ranked:
        v = Volunteer.objects.select_related("user").get(pk=ranked[0].volunteer_id)
        _make_offers(order, [v], Order.DispatchMode.DIRECT)
        event = _record(order, "cascade", Status.DISPATCHED, None, "", {"offered": [v.pk]})
        _announce(order, event, None)
        return order
    return order_recall(order_id=order.pk, user=None, reason=_("No volunteer is available; back to the desk."))


@transaction.atomic
def order_release(*, order_id: int, user, reason: str = "") -> Order:
    """The assigned volunteer (or the claim SLA) gives the order back; it is re-offered."""
    order, roles = _load(order_id, user)
    _check("release", order, roles)
    note = _reason(reason) if user is not None else (reason or "")
    releasing = order.volunteer
    assert releasing is not None
    _move(
        order,
        "release",
        guard=Q(volunteer_id=releasing.pk),
        fields={"volunteer": None, "claimed_at": None, "dispatched_at": timezone.now()},
    )
    # They may not be offered it again: record their offer as declined.
    dropped = Offer.objects.filter(order=order, volunteer=releasing, status=Offer.Status.CLAIMED).update(
        status=Offer.Status.DECLINED, closed_at=timezone.now()
    )
    volunteer_record_add(volunteer_id=releasing.pk, held=-1, dropped=dropped)
    _finish(order, "release", Status.CLAIMED, user, note, {"volunteer": releasing.pk})
    _forget_personal_data(order, releasing.user_id)
    publish(recipients=[releasing.user_id], kind="order.released", payload={"order": order.pk}, order_id=order.pk)
    return order_cascade(order_id=order.pk)


@transaction.atomic
def order_start(*, order_id: int, user) -> Order:
    order, roles = _load(order_id, user)
    _check("start", order, roles)
    _move(order, "start", guard=Q(volunteer_id=order.volunteer_id), fields={"started_at": timezone.now()})
    return _finish(order, "start", order.status, user)


@transaction.atomic
def order_complete(*, order_id: int, user, note: str, hours: Decimal) -> Order:
    order, roles = _load(order_id, user)
    _check("complete", order, roles)
    if hours is None or hours <= 0 or hours > 24:
        raise InvalidInput(fields={"hours": [_("Hours must be more than 0 and at most 24.")]})
    _move(
        order,
        "complete",
        guard=Q(volunteer_id=order.volunteer_id),
        fields={"completed_at": timezone.now(), "hours": hours, "completion_note": (note or "").strip()},
    )
    assert order.volunteer_id is not None  # the guard above held
    volunteer_record_add(volunteer_id=order.volunteer_id, held=-1, finished=1)
    return _finish(order, "complete", order.status, user, (note or "").strip(), {"hours": str(hours)})


# --- resident's verdict ------------------------------------------------------------------------


@transaction.atomic
def order_confirm(*, order_id: int, user, rating: int | None = None, comment: str = "") -> Order:
    """The resident confirms and rates (or the system closes after N days, without rating)."""
    order, roles = _load(order_id, user)
    _check("confirm", order, roles)
    if user is not None and (rating is None or not 1 <= rating <= 5):
        raise InvalidInput(fields={"rating": [_("Give a rating from 1 to 5.")]})
    _move(order, "confirm", fields={"closed_at": timezone.now()})
    if rating is not None:
        Rating.objects.create(
            order=order, volunteer_id=order.volunteer_id, rating=rating, comment=(comment or "").strip()
        )
        if order.volunteer_id is not None:
            volunteer_record_add(volunteer_id=order.volunteer_id, rating=rating)
    note = (comment or "").strip() if user is not None else _("Closed automatically: not confirmed in time.")
    fresh = _finish(order, "confirm", order.status, user, note, {"rating": rating} if rating else {})
    # 愛心銀行: the volunteer's hours are credited in the same transaction as the close.
    timebank_credit_order(order=fresh)
    return fresh


@transaction.atomic
def order_reopen(*, order_id: int, user, reason: str) -> Order:
    """Not done after all: back to the desk as accepted, within N days of completion."""
    order, roles = _load(order_id, user)
    _check("reopen", order, roles)
    note = _reason(reason)
    window = timedelta(days=settings.SANDAN["CONFIRM_DAYS"])
    if order.status == Status.CLOSED and (order.closed_at is None or order.closed_at < timezone.now() - window):
        raise InvalidTransition(_("This order was closed too long ago to reopen."))
    _move(
        order,
        "reopen",
        fields={
            "volunteer": None,
            "dispatched_at": None,
            "claimed_at": None,
            "started_at": None,
            "completed_at": None,
            "closed_at": None,
            "hours": None,
            "dispatch_mode": "",
            "reopen_count": order.reopen_count + 1,
        },
    )
    if order.volunteer is not None:
        volunteer_record_add(volunteer_id=order.volunteer.pk, finished=-1)
        _forget_personal_data(order, order.volunteer.user_id)
    return _finish(order, "reopen", order.status, user, note, {"volunteer": order.volunteer_id})


ACTION_SERVICES: dict[str, Callable[..., Order]] = {
    "accept": order_accept,
    "reject": order_reject,
    "transfer": order_transfer,
    "cancel": order_cancel,
    "dispatch": order_dispatch,
    "claim": order_claim,
    "decline": order_decline,
    "recall": order_recall,
    "release": order_release,
    "start": order_start,
    "complete": order_complete,
    "confirm": order_confirm,
    "reopen": order_reopen,
}
