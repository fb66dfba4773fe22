"""Writes behind GeoReport v2: registering clients, checking their key and rate, and filing a
posted request as a Sandan order (docs/open311.md).

A filed request is an ordinary submitted order: `orders.services.order_submit` routes it to
the branch of the grid that contains the point, exactly as for a phone app, and writes the
client's name on the submit event of the timeline."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ResidentProfile
from open311.errors import BadRequest, Forbidden, NotFound, RateLimited
from open311.models import Open311Client, Open311Request, ResidentIdentity, ServiceAttribute
from open311.params import Filing, parse_datetime_w3
from orders.models import Category, Order
from orders.services import OrderInput, order_submit

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
MAX_ANSWER = 1000


# --- clients -----------------------------------------------------------------------------------


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def _new_key() -> tuple[str, str, str]:
    key = secrets.token_urlsafe(32)
    return key, key[:8], hash_key(key)


@transaction.atomic
def client_register(
    *, name: str, rate: str = "60/minute", contact: str = "", active: bool = True
) -> tuple[Open311Client, str]:
    """Register a client and return it with its api_key. The key is shown this once: only its
    hash is kept, so nobody (an admin included) can read it back later."""
    key, prefix, digest = _new_key()
    client = Open311Client(name=name, rate=rate, contact=contact, active=active, key_prefix=prefix, key_hash=digest)
    client.full_clean()
    client.save()
    return client, key


@transaction.atomic
def client_rotate_key(*, client: Open311Client) -> str:
    """Give the client a new key; the old one stops working at once (one UPDATE)."""
    key, prefix, digest = _new_key()
    Open311Client.objects.filter(pk=client.pk).update(key_prefix=prefix, key_hash=digest)
    client.key_prefix, client.key_hash = prefix, digest
    return key


def client_authenticate(*, api_key: str) -> Open311Client:
    """The active client holding this key, or 403 (missing, unknown and disabled look alike)."""
    if not api_key:
        raise Forbidden(_("An api_key is required to file a request."))
    client = Open311Client.objects.filter(key_hash=hash_key(api_key), active=True).first()
    if client is None:
        raise Forbidden(_("This api_key is not valid; the request was not filed."))
    Open311Client.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
    return client


def parse_rate(rate: str) -> tuple[int, int]:
    count, _slash, period = rate.partition("/")
    return int(count), PERIODS[period]


def client_check_rate(*, client: Open311Client, now: float | None = None) -> None:
    """Count one request against the client's rate in a fixed window, or raise 429.

    The counter lives in the shared cache (Redis in production), so every web process counts
    against the same window; `incr` is atomic there, so concurrent requests cannot both take
    the last slot."""
    limit, period = parse_rate(client.rate)
    moment = time.time() if now is None else now
    window = int(moment // period)
    key = f"open311:rate:{client.pk}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add and incr
        cache.add(key, 1, timeout=period + 1)
        count = 1
    if count > limit:
        retry = max(1, math.ceil((window + 1) * period - moment))
        raise RateLimited(_("Too many requests for this api_key; try again later."), retry_after=retry)


# --- residents ---------------------------------------------------------------------------------


def _known(identities: list[tuple[str, str]]):
    for kind, value in identities:
        found = ResidentIdentity.objects.filter(kind=kind, value=value).select_related("user").first()
        if found is not None:
            if not found.user.is_active:
                raise BadRequest(_("This resident's account is disabled."))
            return found.user
    return None


def _existing_user(*, email: str, phone: str):
    User = get_user_model()
    if email:
        user = User.objects.filter(email__iexact=email, is_active=True, is_staff=False).order_by("pk").first()
        if user is not None:
            return user
    if phone:
        profile = (
            ResidentProfile.objects.filter(phone=phone, user__is_active=True, user__is_staff=False)
            .order_by("pk")
            .first()
        )
        if profile is not None:
            return profile.user
    return None


def _new_resident(*, email: str, phone: str, first_name: str, last_name: str):
    User = get_user_model()
    user = User(
        username=f"o311-{secrets.token_hex(6)}",
        email=email,
        first_name=first_name,
        last_name=last_name,
        display_name=" ".join(n for n in (first_name, last_name) if n)[:80],
    )
    # No password: the resident exists to own the order; they may sign up later.
    user.set_unusable_password()
    user.save()
    ResidentProfile.objects.create(user=user, phone=phone)
    return user


def resident_for(
    *, email: str = "", phone: str = "", account_id: str = "", first_name: str = "", last_name: str = ""
) -> tuple[Any, bool]:
    """The resident a request is for, and whether they were created just now.

    `account_id` names an existing user (id or username). Otherwise the e-mail address, then
    the phone number, finds a resident a client filed for before, or an existing Sandan
    resident; failing both, a resident is created without a password. Admin accounts
    (is_staff) are never matched: a client cannot file in an operator's name.
    Two concurrent first posts for the same new person both try to insert the same
    `ResidentIdentity`; the unique constraint lets one win, the other rolls back its new
    user in a savepoint and reads the winner's."""
    if account_id:
        User = get_user_model()
        by_id = account_id.isdigit() and len(account_id) < 19
        lookup = Q(pk=int(account_id)) if by_id else Q(username=account_id)
        user = User.objects.filter(lookup, is_active=True, is_staff=False).first()
        if user is None:
            raise BadRequest(_("account_id does not name a resident here."))
        return user, False
    kinds = ResidentIdentity.Kind
    identities = [(str(kind), value) for kind, value in ((kinds.EMAIL, email), (kinds.PHONE, phone)) if value]
    for _attempt in range(2):
        user = _known(identities)
        if user is not None:
            return user, False
        try:
            with transaction.atomic():
                user = _existing_user(email=email, phone=phone)
                created = user is None
                if user is None:
                    user = _new_resident(email=email, phone=phone, first_name=first_name, last_name=last_name)
                for kind, value in identities:
                    ResidentIdentity.objects.create(kind=kind, value=value, user=user)
            return user, created
        except IntegrityError:
            continue  # someone linked one of these first: read theirs
    raise BadRequest(_("This e-mail address and phone number belong to different residents."))


# --- filing ------------------------------------------------------------------------------------


def _answer(attribute: ServiceAttribute, values: list[str], problems: list[str]) -> Any:
    label = f"attribute[{attribute.code}]"
    keys = {str(v["key"]): v["name"] for v in attribute.values or []}
    kind = ServiceAttribute.Datatype
    if attribute.datatype == kind.MULTI:
        unknown = [v for v in values if v not in keys]
        if unknown:
            problems.append(_("%(label)s has no option %(value)s.") % {"label": label, "value": ", ".join(unknown)})
        return values
    if len(values) > 1:
        problems.append(_("%(label)s takes one value.") % {"label": label})
        return None
    value = values[0]
    if attribute.datatype == kind.SINGLE and value not in keys:
        problems.append(_("%(label)s has no option %(value)s.") % {"label": label, "value": value})
    elif attribute.datatype == kind.NUMBER:
        try:
            if not math.isfinite(float(value)):
                raise ValueError
        except ValueError:
            problems.append(_("%(label)s must be a number.") % {"label": label})
    elif attribute.datatype == kind.DATETIME and parse_datetime_w3(value) is None:
        problems.append(_("%(label)s must be an ISO 8601 date-time.") % {"label": label})
    elif attribute.datatype == kind.STRING and ("\n" in value or len(value) > 255):
        problems.append(_("%(label)s must be one line of at most 255 characters.") % {"label": label})
    elif len(value) > MAX_ANSWER:
        problems.append(_("%(label)s is limited to %(n)s characters.") % {"label": label, "n": MAX_ANSWER})
    return value


def check_answers(category: Category, answers: dict[str, list[str]]) -> tuple[dict[str, Any], list[str]]:
    """Validate attribute[code] answers against the service definition.
    Returns the clean answers and the lines to show the branch with the description."""
    attributes = {a.code: a for a in category.open311_attributes.all()}
    problems = [
        _("attribute[%(code)s] is not part of this service's definition.") % {"code": code}
        for code in answers
        if code not in attributes or not attributes[code].variable
    ]
    clean: dict[str, Any] = {}
    lines: list[str] = []
    for attribute in sorted(attributes.values(), key=lambda a: a.order):
        values = answers.get(attribute.code, [])
        if not attribute.variable:
            continue
        if not values:
            if attribute.required:
                problems.append(_("attribute[%(code)s] is required.") % {"code": attribute.code})
            continue
        value = _answer(attribute, values, problems)
        clean[attribute.code] = value
        names = {str(v["key"]): str(v["name"]) for v in attribute.values or []}
        given = [str(v) for v in (value if isinstance(value, list) else [value])]
        shown = ", ".join(names.get(v, v) for v in given)
        lines.append(f"{attribute.description} {shown}")
    if problems:
        raise BadRequest(*problems)
    return clean, lines


@transaction.atomic
def request_file(
    *, client: Open311Client, filing: Filing, idempotency_key: str | None = None
) -> tuple[Order, Open311Request, bool]:
    """Turn a posted GeoReport request into a submitted Sandan order for the resident it names.
    Returns the order, its Open311 record and whether it was filed just now.

    Everything (a resident created on the way, the order, its timeline and outbox rows, the
    Open311 record) commits together or not at all: a request refused by the router leaves
    no half-made resident behind. With an Idempotency-Key, a retry of the same request by the
    same client returns the first order: `order_submit`'s key (unique per resident) decides
    between concurrent retries, and the resident is the same one because `resident_for` is."""
    category = (
        Category.objects.filter(code=filing.service_code, active=True).prefetch_related("open311_attributes").first()
    )
    if category is None:
        raise NotFound(_("service_code %(code)s was not found.") % {"code": filing.service_code})
    answers, lines = check_answers(category, filing.attributes)
    resident, created = resident_for(
        email=filing.email,
        phone=filing.phone,
        account_id=filing.account_id,
        first_name=filing.first_name,
        last_name=filing.last_name,
    )
    if filing.lat is None:
        profile = getattr(resident, "resident", None)
        if getattr(profile, "lat", None) is None or getattr(profile, "lng", None) is None:
            # No geocoder and no address repository here: only coordinates can be routed.
            raise BadRequest(_("address_string and address_id cannot be located here; send lat and long."))
    description = "\n\n".join(part for part in (filing.description or category.name, "\n".join(lines)) if part)
    data = OrderInput(
        category=category.code,
        description=description,
        lat=filing.lat,
        lng=filing.lng,
        address=filing.address_string,
        contact_phone=filing.phone or None,
    )
    # A refusal of the order services (InvalidInput: no branch serves the point...) reaches
    # the view, which answers it in the spec's error format and rolls all of this back.
    key = f"open311:{client.pk}:{idempotency_key}" if idempotency_key else None
    order, fresh = order_submit(
        resident=resident, data=data, submitted_by=None, idempotency_key=key, source=f"Open311: {client.name}"
    )
    if not fresh:
        return order, Open311Request.objects.get(order=order), False
    record = Open311Request.objects.create(
        order=order,
        client=client,
        resident_created=created,
        device_id=filing.device_id,
        media_url=filing.media_url,
        attributes=answers,
    )
    return order, record, True
