"""What someone who may not see a resident's personal data is shown of an order's words.

Who may see the personal data at all is `orders.selectors.can_see_personal_data`. Everyone
else who sees the order (a volunteer it is offered to, the volunteer who held it once the
contact window has passed, an Open311 client) gets its free text through `mask`: the
resident's own details (name, username, e-mail, phone, address) and anything shaped like a
phone number or an e-mail address become ***; and the resident never appears by name as
the actor of a timeline step.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from orders.models import Order, OrderEvent

MASK = "***"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")


def _personal_strings(order: Order) -> list[str]:
    user = order.resident
    profile = getattr(user, "resident", None)
    candidates = [
        order.address,
        order.contact_phone,
        user.email,
        user.first_name,
        user.last_name,
        user.get_full_name(),
        user.display_name,
        user.username,
        getattr(profile, "address", ""),
        getattr(profile, "phone", ""),
    ]
    # Longest first, so that a full name is masked before its parts.
    return sorted({c.strip() for c in candidates if c and len(c.strip()) >= 2}, key=len, reverse=True)


def mask(text: str | None, order: Order) -> str | None:
    """`text` with the resident's details and phone numbers / e-mail addresses masked.

    Reads `order.resident` and its profile: select them with the order where many are masked."""
    if not text:
        return None
    lowered = text.lower()
    for secret in _personal_strings(order):
        if secret.lower() not in lowered:
            continue  # the usual case: no pattern to compile (compiling per row dominated a list)
        pattern = re.escape(secret)
        if secret[0].isascii() and secret[0].isalnum() and secret[-1].isascii() and secret[-1].isalnum():
            # Latin names and usernames as whole words only ("Al" must not eat "Also");
            # Chinese is written without spaces, so it is masked wherever it appears.
            pattern = rf"(?<![A-Za-z0-9]){pattern}(?![A-Za-z0-9])"
        text = re.sub(pattern, MASK, text, flags=re.IGNORECASE)
        lowered = text.lower()
    text = _EMAIL.sub(MASK, text)
    text = _DIGITS.sub(_mask_number, text)
    return text


def _mask_number(match: re.Match[str]) -> str:
    """Seven digits or more read as a phone number (a date like 2026-11-26 does not)."""
    found = match.group()
    if sum(ch.isdigit() for ch in found) < 7 or _DATE.match(found):
        return found
    return MASK


def shown_text(text: str | None, order: Order, *, personal: bool) -> str | None:
    """Free text of an order (description, a timeline note, a comment) as this viewer sees it."""
    return text if personal else mask(text, order)


def shown_actor(event: OrderEvent, order: Order, *, personal: bool) -> str | None:
    """Who took a timeline step, as this viewer sees it: None for the system; the resident's
    name only for those who may see their personal data, "Resident" for everyone else."""
    if not event.actor_id:
        return None
    if event.actor_id == order.resident_id and not personal:
        return _("Resident")
    return str(event.actor)


def public_description(order: Order) -> str:
    """The description as an offer shows it, masked once per order object (a broadcast's
    offers all share it)."""
    cached = getattr(order, "_public_description", None)
    if cached is None:
        cached = mask(order.description, order) or ""
        order._public_description = cached  # type: ignore[attr-defined]
    return cached
