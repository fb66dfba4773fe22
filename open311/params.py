"""Parsing of GeoReport v2 arguments: shapes only, no database. Each function returns a
typed value or raises a 400 listing every problem it found, in the spec's error format."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from open311.errors import BadRequest

# The spec's response volume: a span of 90 days or the first 1,000 requests.
WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
# The spec allows 4,000 characters; Sandan's orders hold 2,000 (orders.serializers).
MAX_DESCRIPTION = 2000
MAX_NAME = 60
MAX_EMAIL = 254  # RFC 5321, and the column the address is stored in
# Dates a query may name: beyond them the 90-day window (or the conversion to UTC) would
# leave the calendar (datetime's year 1 to 9999) and fail instead of answering.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
STATUSES = ("open", "closed")

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,40})\](\[\])?$")
_PHONE_JUNK = re.compile(r"[\s().-]")
_PHONE = re.compile(r"^\+?[0-9]{5,20}$")


@dataclass(frozen=True)
class Filing:
    """A POSTed service request, parsed."""

    service_code: str
    lat: float | None = None
    lng: float | None = None
    address_string: str = ""
    address_id: str = ""
    email: str = ""
    phone: str = ""
    account_id: str = ""
    first_name: str = ""
    last_name: str = ""
    device_id: str = ""
    description: str = ""
    media_url: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """The filters of GET requests, parsed. `ids` overrides everything else (spec)."""

    ids: list[int] | None
    service_codes: list[str]
    start: datetime
    end: datetime
    statuses: list[str]


def _one(data: QueryDict, name: str) -> str:
    # "Optional" means an empty parameter is the same as an absent one.
    return (data.get(name) or "").strip()


def _many(data: QueryDict, name: str) -> list[str]:
    """A comma list that may also be declared several times."""
    items: list[str] = []
    for raw in data.getlist(name):
        items += [part.strip() for part in raw.split(",") if part.strip()]
    return items


def normalise_phone(raw: str) -> str:
    return _PHONE_JUNK.sub("", raw)


def _coordinate(raw: str, name: str, limit: float, problems: list[str]) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        problems.append(_("%(name)s must be a number in WGS84 degrees.") % {"name": name})
        return None
    if not math.isfinite(value) or not -limit <= value <= limit:
        problems.append(_("%(name)s must lie between -%(limit)s and %(limit)s.") % {"name": name, "limit": int(limit)})
        return None
    return value


def parse_filing(data: QueryDict) -> Filing:
    problems: list[str] = []
    service_code = _one(data, "service_code")
    if not service_code:
        problems.append(_("service_code was not provided."))

    lat = lng = None
    raw_lat, raw_lng = _one(data, "lat"), _one(data, "long")
    address_string, address_id = _one(data, "address_string"), _one(data, "address_id")
    if raw_lat or raw_lng:
        if not (raw_lat and raw_lng):
            problems.append(_("lat and long must be sent together."))
        else:
            lat = _coordinate(raw_lat, "lat", 90, problems)
            lng = _coordinate(raw_lng, "long", 180, problems)
    elif not (address_string or address_id):
        problems.append(_("A location is required: lat and long, address_string or address_id."))
    if len(address_string) > 255:
        problems.append(_("address_string is limited to 255 characters."))

    email = _one(data, "email").lower()
    if len(email) > MAX_EMAIL:
        problems.append(_("email is limited to %(n)s characters.") % {"n": MAX_EMAIL})
    elif email:
        try:
            validate_email(email)
        except ValidationError:
            problems.append(_("email is not a valid e-mail address."))
    phone = normalise_phone(_one(data, "phone"))
    if phone and not _PHONE.match(phone):
        problems.append(_("phone must be 5 to 20 digits, optionally after a +."))
    account_id = _one(data, "account_id")
    if not (email or phone or account_id):
        problems.append(_("Identify the resident with email, phone or account_id."))

    description = (data.get("description") or "").strip()
    if len(description) > MAX_DESCRIPTION:
        problems.append(_("description is limited to %(n)s characters.") % {"n": MAX_DESCRIPTION})
    first_name, last_name = _one(data, "first_name"), _one(data, "last_name")
    if len(first_name) > MAX_NAME or len(last_name) > MAX_NAME:
        problems.append(_("first_name and last_name are limited to %(n)s characters.") % {"n": MAX_NAME})
    device_id = _one(data, "device_id")[:120]
    media_url = _one(data, "media_url")
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            problems.append(_("media_url must be an http or https URL."))
        if len(media_url) > 500:
            problems.append(_("media_url is limited to 500 characters."))

    attributes: dict[str, list[str]] = {}
    for key in data:
        match = _ATTRIBUTE.match(key)
        if match:
            values = [v.strip() for v in data.getlist(key) if v.strip()]
            attributes.setdefault(match.group(1), []).extend(values)

    if problems:
        raise BadRequest(*problems)
    return Filing(
        service_code=service_code,
        lat=lat,
        lng=lng,
        address_string=address_string,
        address_id=address_id,
        email=email,
        phone=phone,
        account_id=account_id,
        first_name=first_name,
        last_name=last_name,
        device_id=device_id,
        description=description,
        media_url=media_url,
        attributes=attributes,
    )


def parse_datetime_w3(raw: str) -> datetime | None:
    """A w3 date or date-time; an offset is expected, a naive value is read as local time.
    A '+' of an offset sent unescaped in a query string arrives as a space."""
    text = raw.strip()
    if " " in text and "T" in text:
        text = text.replace(" ", "+")
    try:
        value = parse_datetime(text)
        if value is None:
            day = parse_date(text)
            value = datetime.combine(day, time.min) if day is not None else None
    except ValueError:
        return None
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


def _window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The spec's default: the most recent 90 days, or 90 days from a start or to an end."""
    if start is not None and end is not None:
        return start, end
    if start is not None:
        return start, start + WINDOW
    if end is not None:
        return end - WINDOW, end
    return now - WINDOW, now


def parse_query(data: QueryDict, *, now: datetime | None = None) -> Query:
    problems: list[str] = []
    ids: list[int] | None = None
    raw_ids = _many(data, "service_request_id")
    if raw_ids:
        # Ids that are not numbers cannot exist here: they simply match nothing.
        ids = [int(i) for i in raw_ids[:MAX_RESULTS] if i.isdigit() and len(i) < 19]

    parsed: dict[str, datetime | None] = {}
    for name in ("start_date", "end_date"):
        raw = _one(data, name)
        parsed[name] = parse_datetime_w3(raw) if raw else None
        if raw and parsed[name] is None:
            problems.append(_("%(name)s must be a w3 date-time, e.g. 2010-01-01T00:00:00Z.") % {"name": name})
        elif parsed[name] is not None and not EARLIEST <= parsed[name] <= LATEST:  # type: ignore[operator]
            problems.append(_("%(name)s must lie between the years 1900 and 9000.") % {"name": name})
            parsed[name] = None
    if problems:
        raise BadRequest(*problems)
    start, end = _window(parsed["start_date"], parsed["end_date"], now or timezone.now())
    if end < start:
        problems.append(_("end_date must not be before start_date."))
    elif end - start > WINDOW:
        problems.append(_("start_date and end_date may not span more than 90 days."))

    statuses = [s.lower() for s in _many(data, "status")]
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        problems.append(_("status must be open or closed, not %(value)s.") % {"value": ", ".join(unknown)})

    if problems:
        raise BadRequest(*problems)
    return Query(
        ids=ids,
        service_codes=_many(data, "service_code"),
        start=start,
        end=end,
        statuses=sorted(set(statuses)),
    )
