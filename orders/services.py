"""Every write to an order: one service per lifecycle action (docs/design.md, "The lifecycle").

`orders/` is the only writer of `Order`, `OrderEvent` and (through `orders.offers`) `Offer`:
the API, the pages, the WebSocket, the timers, Open311 and batch dispatch all call these
services. How they stay correct under concurrency:
- A transition is a conditional UPDATE on the order row (`WHERE id = … AND status = <the
  status we read>` plus the facts the permission check relied on, e.g. the branch or the
  assigned volunteer) and a check of the row count. Two callers cannot both win: the second
  UPDATE finds the row changed and matches nothing.
- Lock order is always volunteer row (claim only) → order row → offer rows → the volunteer's
  record, so concurrent claims, recalls and declines cannot deadlock.
- The change, its timeline row (`OrderEvent`) and its outbox events commit together; the
  push to phones happens after commit (`notifications.events.publish`).
On SQLite the same code runs inside IMMEDIATE transactions, which serialise writers.
The SLA steps (`order_escalate`, `order_widen`, `order_remind`, `order_release_overdue`,
`order_close_unconfirmed`) are what the timers call when a period runs out; they run as the
SYSTEM role inside the timer step's transaction.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.prepared import prepared
from notifications.events import outbox_forget, publish
from orders import offers
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
from orders.limits import order_submit_check_rate
from orders.models import Category, IdempotencyKey, Offer, Order, OrderEvent, OrderFollower, Rating
from orders.payloads import event_payload, order_payload, public_event_payload, public_order_payload
from orders.records import record_add
from orders.selectors import batch_orders_for, roles_for, roles_of, with_roles
from orders.states import DESK, OPEN, TRANSITIONS, Role, Status, may
from timebank.models import Entry
from timebank.services import timebank_adjust, timebank_credit_order
from volunteers.models import Area, Branch, Volunteer
from volunteers.selectors import ancestor_ids, branch_for_area, desk_branch_ids, grid_for_point

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
    "merge": lambda: _("Your request is the same as another one nearby: you now follow that one."),
}
# What a follower is told (stored in the notification centre) of the order they follow.
_FOLLOWER_NOTICES = {
    "accept": lambda: _("A request you follow has been accepted by the branch."),
    "reject": lambda: _("A request you follow could not be taken on."),
    "claim": lambda: _("A volunteer has taken a request you follow."),
    "complete": lambda: _("A request you follow is done."),
    "cancel": lambda: _("A request you follow was cancelled."),
    "merge": lambda: _("A request you follow was merged into another one: you now follow that one."),
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
    if viewer is None:
        order = _order_alone.first(int(order_id))
    else:  # the viewer's roles come with the row
        order = _order_viewed.first(viewer.pk if viewer.is_authenticated else 0, int(order_id))
    if order is None:
        raise OrderNotFound()
    return order


# What services and payloads read, no more: each further join (the volunteer's and the
# resident's user rows) and the model's ordering cost ORM and planner time on every
# transition; 2.2 instead of 7.5 ms a call measured (docs/performance.md, Realtime). Compiled
# once (core/prepared.py): building the read cost more than running it.
def _service_read() -> QuerySet[Order]:
    return Order.objects.select_related("category", "branch__area", "volunteer", "grid").order_by()


@prepared
def _order_alone(order_id: int) -> QuerySet[Order]:
    return _service_read().filter(pk=order_id)[:1]  # one row: Django's checks (zeal's too) know it


@prepared
def _order_viewed(uid: int, order_id: int) -> QuerySet[Order]:
    return with_roles(_service_read(), uid).filter(pk=order_id)[:1]


@prepared
def _order_to_claim(uid: int, volunteer_id: int, order_id: int) -> QuerySet[Order]:
    # One read for the order, the caller's roles and "had I an offer": the hot path of a pool
    # race. Volunteer id 0 (the caller is none) has no offers.
    had_offer = Offer.objects.filter(order=OuterRef("pk"), volunteer_id=volunteer_id)
    return (
        with_roles(Order.objects.select_related("category", "branch__area", "volunteer", "grid"), uid)
        .annotate(had_offer=Exists(had_offer))
        .filter(pk=order_id)
        .order_by()[:1]
    )


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
    written = {"status": target, "updated_at": timezone.now(), **(fields or {})}
    won = Order.objects.filter(condition).update(**written)
    if won != 1:
        raise lost()
    # What `_finish` needs to show the order as it now is without reading it again; `order`
    # itself keeps the state it was loaded in (callers pass `order.status` as where it came from).
    order._written = written  # type: ignore[attr-defined]


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
    # Through the seat table, not `order.branch.secretaries`: no join to the users, and a batch
    # of dispatches in one request is not read as an N+1 (each order is its own transaction).
    recipients |= set(
        Branch.secretaries.through.objects.filter(branch_id=order.branch_id).values_list("user_id", flat=True)
    )
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
    _announce_to_followers(order, event, exclude=recipients)


def _announce_to_followers(order: Order, event: OrderEvent, *, exclude: set[int]) -> None:
    """Followers hear of every step in the public shape (no address, phone or point; notes
    masked) and are told in the notification centre of the steps a resident is told of."""
    followers = set(OrderFollower.objects.filter(order_id=order.pk).values_list("user_id", flat=True)) - exclude
    if not followers:
        return
    shown = public_event_payload(event, order)
    payload = {"order": public_order_payload(order), "event": shown, "following": True}
    publish(recipients=followers, kind="order.updated", payload=payload, order_id=order.pk)
    notice = _FOLLOWER_NOTICES.get(event.action)
    if notice is not None:
        publish(
            recipients=followers,
            kind="order.notice",
            payload={"order": order.pk, "action": event.action, "status": order.status, "following": True},
            order_id=order.pk,
            notify=(notice(), shown["note"]),
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
    """The timeline row and its announcement, about the order as its UPDATE left it: the
    loaded order with the values `_move` wrote (the row is ours until the transaction ends;
    a read again cost a statement and ~2 ms of CPU per action, docs/performance.md). Read
    again when a value was computed by the database or the order moved some other way.
    `reread=False` when the caller's `order` already holds every value its UPDATE wrote."""
    if not reread:
        fresh = order
    else:
        written: dict[str, Any] | None = getattr(order, "_written", None)
        if written is None or any(hasattr(value, "resolve_expression") for value in written.values()):
            fresh = _fetch(order.pk)
        else:
            fresh = copy.copy(order)
            for name, value in written.items():
                setattr(fresh, name, value)
    event = _record(fresh, action, from_status, actor, note, data)
    _announce(fresh, event, actor)
    return fresh


_PERSONAL_KEYS = ("address", "contact_phone", "lat", "lng")


def _forget_personal_data(order: Order, user_id: int) -> None:
    """A volunteer who no longer holds the order loses its address, phone and the resident's
    name everywhere, including the outbox: a resume from an old cursor must not hand them back."""
    outbox_forget(
        recipient_id=user_id,
        order_id=order.pk,
        keys=_PERSONAL_KEYS,
        actors={str(order.resident): _("Resident")},
    )


def _reason(reason: str | None, field: str = "reason") -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(fields={field: [_("A reason is required.")]})
    return text


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
    # Order.Kind: "callback" is the one-screen "call me back" (the desk calls first).
    kind: str = Order.Kind.REQUEST

    def fingerprint(self) -> str:
        fields = dict(self.__dict__)
        if fields["kind"] == Order.Kind.REQUEST:
            del fields["kind"]  # as before kinds existed: a retry across an upgrade still matches
        raw = json.dumps(fields, default=str, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()


def order_submit_by(
    *,
    user,
    data: OrderInput,
    resident_id: int | None = None,
    idempotency_key: str | None = None,
    attachments: Sequence[tuple[str, UploadedFile]] = (),
) -> tuple[Order, bool]:
    """A request typed by `user`: their own, or, for a desk entering a walk-in or phone-in,
    the resident `resident_id`'s. Permission comes first, so that someone who may not enter
    requests for others learns nothing about who exists."""
    if resident_id is None or resident_id == user.pk:
        return order_submit(resident=user, data=data, idempotency_key=idempotency_key, attachments=attachments)
    _check_on_behalf(user)
    resident = get_user_model().objects.filter(pk=resident_id, is_active=True).first()
    if resident is None:
        raise InvalidInput(fields={"resident": [_("Unknown resident.")]})
    return order_submit(
        resident=resident, data=data, submitted_by=user, idempotency_key=idempotency_key, attachments=attachments
    )


def _check_on_behalf(submitted_by, branch: Branch | None = None) -> None:
    """Only a desk (a branch's secretary, or staff above branches) enters requests for others,
    and only for residents its branches serve (`branch`: where the order was routed)."""
    desks = desk_branch_ids(submitted_by)
    if not desks:
        raise NotPermitted(_("Only branch or community staff may submit for another resident."))
    if branch is not None and branch.pk not in desks:
        # Otherwise the desk would create an order it cannot see, answer 404 and invite a retry.
        raise InvalidInput(fields={"resident": [_("This request belongs to a branch you do not serve.")]})


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
    A resident's own posts are held to ORDER_SUBMIT_RATE (`orders.limits`, 429 beyond it).
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
            order_submit_check_rate(resident=resident, submitted_by=submitted_by)  # locks the resident's row
            if idempotency_key:
                # Under that lock a concurrent request with this key has committed: its order, not a 429.
                hit = _idempotent_hit(caller, idempotency_key, fingerprint)
                if hit is not None:
                    return hit, False
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
        raise InvalidInput(fields={"lat": [_("This location is outside every area Sandan serves.")]})
    if submitted_by is not None:
        _check_on_behalf(submitted_by, branch)
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
        kind=data.kind,
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
    if branch_id is not None and area_id is not None:
        raise InvalidInput(fields={"area": [_("Name a branch or an area to transfer to, not both.")]})
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
    """支部下單, second half: offer the order to volunteers (direct, pool or broadcast).

    Who is offered it is decided before the conditional UPDATE (a named volunteer must be
    offerable, `orders.offers.check_offerable`; otherwise the matcher ranks); the offers are
    made after it, while this transaction holds the order row."""
    order, roles = _load(order_id, user)
    _check("dispatch", order, roles)
    chosen, ranks, distances = _choose_for_dispatch(
        order, mode=mode, volunteer=volunteer, volunteers=volunteers, top=top
    )
    now = timezone.now()
    moved = {"dispatch_mode": mode, "dispatched_at": now, "updated_at": now}
    _move(order, "dispatch", guard=Q(branch_id=order.branch_id), fields=moved)
    # The order row is ours now: no concurrent dispatch or recall can interleave with the
    # offers, and what the UPDATE wrote is known, so the row need not be read again.
    order.status = Status.DISPATCHED
    for name, value in moved.items():
        setattr(order, name, value)
    offers.offers_make(order, chosen, mode, ranks=ranks, distances=distances)
    offered = {"mode": mode, "offered": [v.pk for v in chosen]}
    return _finish(order, "dispatch", Status.ACCEPTED, user, "", offered, reread=False)


def _choose_for_dispatch(
    order: Order, *, mode: str, volunteer: int | None, volunteers: list[int] | None, top: int | None
) -> tuple[list[Volunteer], dict[int, int] | None, dict[int, float] | None]:
    """(volunteers, their ranks, their distances) for a dispatch; ranks and distances come
    from the matcher when it chose them."""
    # A batch pair (`order_batch_dispatch`) is a direct offer recorded as "batch".
    if mode in (Order.DispatchMode.DIRECT, Order.DispatchMode.BATCH):
        if volunteer is None:
            raise InvalidInput(fields={"volunteer": [_("Name the volunteer to offer the order to.")]})
        return offers.check_offerable(order, [volunteer], "volunteer"), None, None
    if mode == Order.DispatchMode.POOL:
        if volunteers and top is not None:
            raise InvalidInput(fields={"top": [_("Name the volunteers or ask for the top n, not both.")]})
        if volunteers:
            return offers.check_offerable(order, list(dict.fromkeys(volunteers)), "volunteers"), None, None
        if top is None:
            raise InvalidInput(fields={"volunteers": [_("Give volunteers, or top: n.")]})
        return _ranked_volunteers(order, limit=top)
    if mode == Order.DispatchMode.BROADCAST:
        return _ranked_volunteers(order, limit=settings.SANDAN_TIMERS["BROADCAST_LIMIT"])
    raise InvalidInput(fields={"mode": [_("Choose direct, pool or broadcast.")]})


def _ranked_volunteers(
    order: Order, *, limit: int, exclude: set[int] | None = None
) -> tuple[list[Volunteer], dict[int, int], dict[int, float]]:
    ranked = offers.ranked(order, limit=limit, exclude=exclude or ())
    if not ranked:
        raise NoCandidates()
    by_id = Volunteer.objects.in_bulk([r.volunteer_id for r in ranked])
    return (
        [by_id[r.volunteer_id] for r in ranked],
        {r.volunteer_id: i for i, r in enumerate(ranked, 1)},
        {r.volunteer_id: r.distance_m for r in ranked},
    )


@transaction.atomic
def order_recall(*, order_id: int, user, reason: str = "") -> Order:
    """Take a dispatched order back to the desk; every open offer vanishes."""
    order, roles = _load(order_id, user)
    _check("recall", order, roles)
    _move(order, "recall", guard=Q(branch_id=order.branch_id), fields={"dispatched_at": None, "dispatch_mode": ""})
    offers.offers_withdraw(order)
    return _finish(order, "recall", order.status, user, (reason or "").strip())


@transaction.atomic
def order_batch_dispatch(*, user, assignments: Sequence[tuple[int, int]]) -> list[Order]:
    """Dispatch each (order, volunteer) pair of a batch the secretary confirmed (the matcher
    proposes them: `matching.services.batch_propose`) as a direct offer recorded as "batch".

    All or nothing: one transaction, so a pair that fails (order moved on, volunteer no
    longer eligible) leaves every order of the batch as it was. Each dispatch is still the
    lifecycle's conditional UPDATE, so a concurrent dispatch of the same order loses cleanly.
    A volunteer is given at most their free capacity within the batch."""
    orders = batch_orders_for(user, [o for o, _v in assignments], "assignments")
    if len(orders) != len(assignments):
        raise InvalidInput(fields={"assignments": [_("Each order may appear only once.")]})
    per_volunteer: dict[int, int] = {}
    for _o, v in assignments:
        per_volunteer[v] = per_volunteer.get(v, 0) + 1
    free = offers.free_capacity(Volunteer.objects.filter(pk__in=list(per_volunteer)))
    over = [
        _("Volunteer %(id)s cannot take %(n)s more orders.") % {"id": v, "n": n}
        for v, n in sorted(per_volunteer.items())
        if v in free and n > free[v]
    ]
    if over:
        raise InvalidInput(fields={"assignments": over})
    dispatched = []
    # In order-id order: two batches sharing orders lock them in the same order, so one
    # waits for the other instead of deadlocking.
    for order_id, volunteer_id in sorted(assignments):
        try:
            dispatched.append(
                order_dispatch(order_id=order_id, user=user, mode=Order.DispatchMode.BATCH, volunteer=volunteer_id)
            )
        except OrderError as exc:
            raise type(exc)(
                _("Order %(id)s: %(reason)s") % {"id": order_id, "reason": exc.message}, fields=exc.fields
            ) from exc
    return dispatched


# --- volunteer actions -------------------------------------------------------------------------


@transaction.atomic
def order_claim(*, order_id: int, user) -> Order:
    """黨員接單: an offered volunteer takes the order. Exactly one claimant wins.

    Permission is the lifecycle table's (`Role.OFFERED`: an open offer). The volunteer row is
    locked first (FOR NO KEY UPDATE: it serialises this volunteer's claims without blocking
    the offers and orders that merely reference the row), then the conditional UPDATE on the
    order row decides between concurrent claimants of the same order, then the offers.
    Capacity is read after our UPDATE, under the volunteer lock: whatever was read before the
    lock may be stale, the record then cannot be.
    """
    volunteer = getattr(user, "volunteer", None)
    order = _order_to_claim.first(user.pk or 0, volunteer.pk if volunteer is not None else 0, int(order_id))
    if order is None:
        raise OrderNotFound()
    if volunteer is not None and order.volunteer_id == volunteer.pk and order.status == Status.CLAIMED:
        return _fetch(order.pk)  # a retried tap: it is already theirs
    roles = roles_of(user, order)
    if volunteer is None or not may("claim", roles):
        if volunteer is not None and order.had_offer:  # type: ignore[attr-defined]
            return _claim_lost(order.pk, volunteer)  # their offer closed: someone else won, or it was withdrawn
        if not roles:
            raise OrderNotFound()  # never offered: a stranger learns nothing
        raise NotPermitted()
    _check("claim", order, roles)
    locked = Volunteer.objects.select_for_update(no_key=True).get(pk=volunteer.pk)
    now = timezone.now()
    try:
        _move(order, "claim", fields={"volunteer": locked, "claimed_at": now, "updated_at": now})
    except InvalidTransition:
        return _claim_lost(order.pk, volunteer)
    # The order row is ours now, so its offers cannot change under us (dispatch, recall and
    # decline all take the order row first). Read the offer now, not before the lock.
    offer = offers.offer_open_for(order, locked)
    if offer is None:
        # Their offer was declined or withdrawn while the order stayed dispatched: undo by raising.
        raise InvalidTransition(_("Your offer for this order is no longer open."))
    if offers.free_capacity([locked])[locked.pk] <= 0:
        raise CapacityReached()
    Offer.objects.filter(pk=offer.pk).update(status=Offer.Status.CLAIMED, closed_at=now)
    offers.offers_withdraw(order, except_offer=offer.pk)
    record_add(volunteer_id=locked.pk, held=1)
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


def _claim_lost(order_id: int, volunteer: Volunteer) -> Order:
    """Why a claim by someone who was offered the order did not win, read after the fact."""
    current = Order.objects.filter(pk=order_id).values_list("status", "volunteer_id").first()
    if current == (Status.CLAIMED, volunteer.pk):
        return _fetch(order_id)  # their own double tap won a moment ago
    if current and current[1] not in (None, volunteer.pk):
        raise AlreadyClaimed()
    raise InvalidTransition(_("Your offer for this order is no longer open."))


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
    record_add(volunteer_id=offer.volunteer_id, dropped=1)
    event = _record(order, "decline", Status.DISPATCHED, user, (reason or "").strip())
    publish(
        recipients=order.branch.secretaries.values_list("id", flat=True),
        kind="order.updated",
        payload={"order": order_payload(order, personal=True), "event": event_payload(event)},
        order_id=order.pk,
    )
    return order_cascade(order_id=order.pk)


@transaction.atomic
def order_cascade(*, order_id: int, at: datetime | None = None) -> Order:
    """Keep a dispatched order moving when its offers run out: offer the next ranked
    volunteer, or, if there is none, hand it back to the desk (system recall)."""
    order = _fetch(order_id)
    if order.status != Status.DISPATCHED:
        return order
    Order.objects.select_for_update().filter(pk=order.pk).first()
    if offers.offers_open_exist(order):
        return order
    try:
        chosen, _ranks, distances = _ranked_volunteers(order, limit=1, exclude=offers.offered_to(order))
    except NoCandidates:
        return order_recall(order_id=order.pk, user=None, reason=_("No volunteer is available; back to the desk."))
    offers.offers_make(order, chosen, Order.DispatchMode.DIRECT, distances=distances, at=at)
    event = _record(order, "cascade", Status.DISPATCHED, None, "", {"offered": [v.pk for v in chosen]})
    _announce(order, event, None)
    return order


@transaction.atomic
def order_release(*, order_id: int, user, reason: str = "", at: datetime | None = None) -> Order:
    """The assigned volunteer (or the claim SLA) gives the order back; it is re-offered.
    `at`: the clock of the timer step that releases it, for the re-offers' period."""
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
    record_add(volunteer_id=releasing.pk, held=-1, dropped=dropped)
    _finish(order, "release", Status.CLAIMED, user, note, {"volunteer": releasing.pk})
    _forget_personal_data(order, releasing.user_id)
    publish(recipients=[releasing.user_id], kind="order.released", payload={"order": order.pk}, order_id=order.pk)
    return order_cascade(order_id=order.pk, at=at)


@transaction.atomic
def order_start(*, order_id: int, user) -> Order:
    order, roles = _load(order_id, user)
    _check("start", order, roles)
    _move(order, "start", guard=Q(volunteer_id=order.volunteer_id), fields={"started_at": timezone.now()})
    return _finish(order, "start", order.status, user)


MAX_HOURS = Decimal("24")


@transaction.atomic
def order_complete(*, order_id: int, user, note: str, hours: Decimal | None) -> Order:
    order, roles = _load(order_id, user)
    _check("complete", order, roles)
    if hours is None or hours <= 0 or hours > MAX_HOURS:
        raise InvalidInput(fields={"hours": [_("Hours must be more than 0 and at most 24.")]})
    _move(
        order,
        "complete",
        guard=Q(volunteer_id=order.volunteer_id),
        fields={"completed_at": timezone.now(), "hours": hours, "completion_note": (note or "").strip()},
    )
    assert order.volunteer_id is not None  # the guard above held
    record_add(volunteer_id=order.volunteer_id, held=-1, finished=1)
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
            record_add(volunteer_id=order.volunteer_id, rating=rating)
    note = (comment or "").strip() if user is not None else _("Closed automatically: not confirmed in time.")
    fresh = _finish(order, "confirm", order.status, user, note, {"rating": rating} if rating else {})
    # 愛心銀行: the volunteer's hours are credited in the same transaction as the close.
    if fresh.volunteer is not None:
        timebank_credit_order(
            order_id=fresh.pk,
            user_id=fresh.volunteer.user_id,
            hours=fresh.hours,
            max_hours=fresh.category.max_hours,
        )
    if fresh.volunteer is not None:
        # Closed: the volunteer's stored outbox copies lose the resident's details now (the live
        # push of this close still carries them), so no resume hands them back later; REST and
        # the pages show them for a while longer (orders.selectors.contact_open).
        _forget_personal_data(fresh, fresh.volunteer.user_id)
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
        record_add(volunteer_id=order.volunteer.pk, finished=-1)
        _forget_personal_data(order, order.volunteer.user_id)
    return _finish(order, "reopen", order.status, user, note, {"volunteer": order.volunteer_id})


@transaction.atomic
def order_timebank_adjust(*, actor, user_id: int, order_id: int, amount: Decimal, reason: str) -> Entry:
    """The desk of the order's branch corrects the hours credited for it to someone who did
    it (its volunteer now, or someone credited for it before a reopen). Someone with no
    relation to the order learns nothing about it (404); the time bank posts the entry
    (`timebank.services.timebank_adjust`, under the account's row lock)."""
    order, roles = _load(order_id, actor)
    if not roles & DESK:
        raise NotPermitted(_("Only the order's branch may adjust its time-bank credit."))
    return timebank_adjust(
        actor=actor,
        user_id=user_id,
        order_id=order.pk,
        amount=amount,
        reason=reason,
        volunteer_user_id=order.volunteer.user_id if order.volunteer is not None else None,
    )


@transaction.atomic
def order_note_review(*, order_id: int, user, result: str, label: str, sample_id: int) -> OrderEvent:
    """A sampling call-back's verdict, as a `review` step on the order's timeline (from = to =
    the current status: a review does not move the order). `stats` decides who may record
    it and keeps the review; the caller's free-text note stays there, not on the timeline,
    which the resident and the volunteer read."""
    order = Order.objects.get(pk=order_id)
    return _record(order, "review", order.status, user, label, {"result": result, "sample": sample_id})


# --- the SLA steps (the timers call these when a period runs out) ------------------------------


def _secretary_ids(order: Order) -> list[int]:
    return list(order.branch.secretaries.values_list("id", flat=True))


def _staff_above_ids(order: Order) -> list[int]:
    """Community and street staff of the areas above the order's branch."""
    areas = ancestor_ids(order.branch.area)
    return sorted(set(Area.objects.filter(pk__in=areas).values_list("staff", flat=True)) - {None})


def _flag_desk(order: Order, flag: str, title: str, body: str = "", extra: list[int] | None = None) -> None:
    """Put a flag on the branch desk (and the desks above, for `extra` staff)."""
    publish(
        recipients=set(_secretary_ids(order)) | set(extra or []),
        kind="desk.flag",
        payload={"order": order.pk, "branch": order.branch_id, "flag": flag},
        order_id=order.pk,
        notify=(title, body),
    )


def _system_note(order: Order, action: str, note: str, data: dict) -> OrderEvent:
    """A step on the timeline that changes no state (escalate, widen, remind), shown live."""
    event = _record(order, action, order.status, None, note, data)
    _announce(order, event, None)
    return event


@transaction.atomic
def order_escalate(*, order_id: int, anchor: datetime, minutes: int, at: datetime) -> Order:
    """Not reviewed within `minutes` of arriving at its branch (`anchor`): flag the order to
    the community and street staff above. Once per arrival: the conditional UPDATE on
    `escalated_at` lets one caller through, and a transfer (a new arrival) allows another."""
    not_yet = Q(escalated_at__isnull=True) | Q(escalated_at__lt=anchor)
    won = Order.objects.filter(not_yet, pk=order_id, status=Status.SUBMITTED).update(escalated_at=at, updated_at=at)
    if won != 1:
        raise InvalidTransition()
    order = _fetch(order_id)
    staff = _staff_above_ids(order)
    note = _("Not reviewed within %(minutes)d minutes: escalated to community staff.") % {"minutes": minutes}
    event = _system_note(order, "escalate", note, {"minutes": minutes, "staff": len(staff)})
    title = _("Escalated: request #%(id)d (%(category)s) not reviewed in time") % {
        "id": order.pk,
        "category": order.category.name,
    }
    body = _("Branch %(branch)s has not reviewed it within %(minutes)d minutes.") % {
        "branch": order.branch.name,
        "minutes": minutes,
    }
    # Staff get the order itself (they may see it in full) and, through the notification, an email.
    publish(
        recipients=staff,
        kind="order.escalated",
        payload={"order": order_payload(order, personal=True), "event": event_payload(event)},
        order_id=order.pk,
        notify=(title, body),
    )
    _flag_desk(order, "escalated", title, body)
    publish(
        recipients=[order.resident_id],
        kind="order.notice",
        payload={"order": order.pk, "action": "escalate", "status": order.status},
        order_id=order.pk,
        notify=(_("Your request is taking longer than it should; community staff have been asked to help."), ""),
    )
    return order


@transaction.atomic
def order_widen(*, order_id: int, level: int, minutes: int, at: datetime) -> Order:
    """Nobody claimed the order within `minutes` of its newest offer: the open offers lapse
    and it is offered wider — first to as many next-ranked volunteers as let it lapse, from
    the second time (`level` 2 on) to every available volunteer; with nobody left, back to
    the desk. The caller holds the order row."""
    order = _fetch(order_id)
    if order.status != Status.DISPATCHED:
        raise InvalidTransition()
    lapsed = offers.offers_lapse(order, at=at)
    if level == 1:
        mode = Order.DispatchMode.DIRECT if len(lapsed) <= 1 else Order.DispatchMode.POOL
        limit = max(1, len(lapsed))
    else:
        mode = Order.DispatchMode.BROADCAST
        limit = settings.SANDAN_TIMERS["BROADCAST_LIMIT"]
    try:
        chosen, ranks, distances = _ranked_volunteers(order, limit=limit, exclude=offers.refused_by(order))
    except NoCandidates:
        order_recall(
            order_id=order.pk,
            user=None,
            reason=_("Nobody took the request within %(minutes)d minutes; back to the desk.") % {"minutes": minutes},
        )
        _flag_desk(
            order, "no_volunteer", _("Request #%(id)d is back on your desk: no volunteer took it.") % {"id": order.pk}
        )
        return _fetch(order.pk)
    offers.offers_make(
        order, chosen, mode, ranks=ranks, distances=distances, expires_at=at + timedelta(minutes=minutes), at=at
    )
    note = (
        _("Nobody claimed it within %(minutes)d minutes: offered to the next volunteers.")
        if mode != Order.DispatchMode.BROADCAST
        else _("Nobody claimed it within %(minutes)d minutes: offered to every available volunteer.")
    ) % {"minutes": minutes}
    data = {"level": level, "mode": mode, "expired": lapsed, "offered": [v.pk for v in chosen]}
    _system_note(order, "widen", note, data)
    _flag_desk(order, "offer_widened", _("Request #%(id)d: offer widened") % {"id": order.pk}, note)
    return order


@transaction.atomic
def order_remind(*, order_id: int, minutes: int, at: datetime) -> Order:
    """Claimed but not started within `minutes`: remind the volunteer, and say when it will
    be released (after twice as long)."""
    order = _fetch(order_id)
    if order.status != Status.CLAIMED or order.volunteer is None:
        raise InvalidTransition()
    note = _("Not started within %(minutes)d minutes; reminder sent.") % {"minutes": minutes}
    _system_note(order, "remind", note, {"minutes": minutes})
    release_at = (order.claimed_at or at) + timedelta(minutes=2 * minutes)
    publish(
        recipients=[order.volunteer.user_id],
        kind="order.reminder",
        payload={"order": order.pk, "release_at": release_at.isoformat()},
        order_id=order.pk,
        notify=(
            _("Please start request #%(id)d") % {"id": order.pk},
            _("If it is not started within %(minutes)d minutes it will be offered to someone else.")
            % {"minutes": minutes},
        ),
    )
    return order


@transaction.atomic
def order_release_overdue(*, order_id: int, minutes: int, at: datetime) -> Order:
    """Claimed but not started within twice `minutes`: released as the SYSTEM and re-offered
    (the re-offers count from the step's clock `at`); the volunteer and the desk are told."""
    order = _fetch(order_id)
    if order.volunteer is None:
        raise InvalidTransition()
    volunteer_user = order.volunteer.user_id
    released = order_release(
        order_id=order.pk,
        user=None,
        reason=_("Not started within %(minutes)d minutes; released automatically.") % {"minutes": 2 * minutes},
        at=at,
    )
    publish(
        recipients=[volunteer_user],
        kind="order.notice",
        payload={"order": order.pk, "action": "release", "status": Status.DISPATCHED},
        order_id=order.pk,
        notify=(_("Request #%(id)d was given to someone else: it was not started in time.") % {"id": order.pk}, ""),
    )
    _flag_desk(order, "auto_released", _("Request #%(id)d was released: not started in time.") % {"id": order.pk})
    return released


@transaction.atomic
def order_close_unconfirmed(*, order_id: int) -> Order:
    """Completed but not confirmed within the confirm period: closed as the SYSTEM, without a
    rating; the resident is told and may still reopen it for a while."""
    closed = order_confirm(order_id=order_id, user=None)
    publish(
        recipients=[closed.resident_id],
        kind="order.notice",
        payload={"order": closed.pk, "action": "confirm", "status": Status.CLOSED},
        order_id=closed.pk,
        notify=(
            _("Your request #%(id)d was closed automatically.") % {"id": closed.pk},
            _("You can still reopen it for a while if the help was not done."),
        ),
    )
    return closed


# --- duplicates: "this is mine too" and merging -------------------------------------------------


@transaction.atomic
def order_follow(*, order_id: int, user) -> tuple[Order, bool]:
    """ "This is mine too": a resident writing a request finds the same need already reported
    nearby and follows that order instead (a +1 on it). Only an open order can be followed;
    a closed or unknown one is the same 404, so that ids cannot be probed for past requests.
    What a follower then sees is what the nearby list showed (area, masked description) and
    the public timeline. Returns (order, followed now); following twice changes nothing."""
    order = Order.objects.select_related("category", "branch__area", "volunteer", "grid").filter(pk=order_id).first()
    if order is None or Status(order.status) not in OPEN:
        raise OrderNotFound()
    if order.resident_id == user.pk:
        raise InvalidInput(fields={"order": [_("This is your own request.")]})
    Order.objects.select_for_update().filter(pk=order.pk).first()  # one +1 at a time per order
    _follower, created = OrderFollower.objects.get_or_create(
        order=order, user=user, defaults={"source": OrderFollower.Source.MINE_TOO}
    )
    if created:
        count = OrderFollower.objects.filter(order=order).count()
        # No actor: the follower's name is theirs, not something the resident or others read.
        event = _record(order, "follow", order.status, None, _("A neighbour has the same need (+1)."), {"count": count})
        _announce(order, event, None)
    return order, created


@transaction.atomic
def order_merge(*, order_id: int, user, into: int, reason: str = "") -> Order:
    """Close `order_id` as a duplicate of `into` (status "merged"): its resident, and whoever
    followed it, follow `into` from now on and hear of its steps; neither resident sees the
    other's personal data. Both are open orders of the caller's desks; the duplicate has no
    volunteer yet (submitted or accepted, `orders.states`).

    Races: both rows are locked in id order before anything is decided, so two merges of the
    same pair (either way round) cannot both win: the second finds the duplicate merged (the
    conditional UPDATE matches nothing: invalid_transition) or its survivor no longer open."""
    order, roles = _load(order_id, user)
    _check("merge", order, roles)
    note = (reason or "").strip()
    if into == order.pk:
        raise InvalidInput(fields={"into": [_("An order cannot be merged into itself.")]})
    if order.reopen_count:
        # It was done and rated once: not a fresh duplicate, and its verdicts stay in the figures.
        raise InvalidInput(fields={"into": [_("A reopened order cannot be merged; cancel it instead.")]})
    locked = {o.pk: o for o in Order.objects.select_for_update().filter(pk__in=[order.pk, into]).order_by("pk")}
    survivor = locked.get(into)
    # The same words whether it does not exist or is another desk's: no IDOR oracle.
    unknown = InvalidInput(fields={"into": [_("Order %(id)s is not one of your desk's orders.") % {"id": into}]})
    if survivor is None or not roles_for(user, survivor) & DESK:
        raise unknown
    if Status(survivor.status) not in OPEN:
        raise InvalidInput(fields={"into": [_("Order %(id)s is no longer open.") % {"id": into}]})
    now = timezone.now()
    _move(order, "merge", guard=Q(branch_id=order.branch_id), fields={"merged_into_id": survivor.pk, "closed_at": now})
    # The duplicate's resident follows the survivor, and so do the duplicate's followers.
    moving = {order.resident_id, *OrderFollower.objects.filter(order=order).values_list("user_id", flat=True)}
    already = set(OrderFollower.objects.filter(order=survivor).values_list("user_id", flat=True))
    OrderFollower.objects.bulk_create(
        [
            OrderFollower(order=survivor, user_id=uid, source=OrderFollower.Source.MERGED, merged_from_id=order.pk)
            for uid in moving
            if uid not in already and uid != survivor.resident_id
        ]
    )
    data = {"into": survivor.pk}
    fresh = _finish(order, "merge", order.status, user, note, data)
    fresh_survivor = _fetch(survivor.pk)
    event = _record(
        fresh_survivor,
        "merge_in",
        fresh_survivor.status,
        user,
        _("A duplicate request was merged into this one."),
        {"from": order.pk, "count": OrderFollower.objects.filter(order=survivor).count()},
    )
    _announce(fresh_survivor, event, user)
    return fresh


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
    "merge": order_merge,
}
