"""Small filters for the pages' templates. Every value they return is plain text: the
template engine escapes it."""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import quote

from django import template
from django.utils import dateformat, timezone
from django.utils.html import conditional_escape, format_html
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import names
from orders.privacy import public_description as _public_description
from web.forms import category_label
from web.labels import (
    ACTION_LABELS,
    MODE_LABELS,
    OFFER_STATE_LABELS,
    REASON_LABELS,
    SCOPE_LABELS,
    STATUS_LABELS,
    URGENCY_LABELS,
)

register = template.Library()


@register.simple_tag
def one_time_key() -> str:
    """A fresh key for one rendering of an action's form (the server's idempotency key): the
    same tap sent twice, or kept offline and sent later, is taken once."""
    return uuid.uuid4().hex


@register.filter
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@register.filter
def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@register.filter
def urgency_label(urgency: str) -> str:
    return str(URGENCY_LABELS.get(urgency, urgency))


@register.filter
def offer_state_label(state: str) -> str:
    return str(OFFER_STATE_LABELS.get(state, state))


@register.filter
def mode_label(mode: str) -> str:
    return str(MODE_LABELS.get(mode, mode))


@register.filter
def reason_label(name: str) -> str:
    return str(REASON_LABELS.get(name, name))


@register.filter
def scope_label(name: str) -> str:
    return str(SCOPE_LABELS.get(name, name))


@register.filter
def category_name(category) -> str:
    return category_label(category)


@register.filter
def local_name(obj) -> str:
    """A category's, skill's, area's or branch's name in the reader's language."""
    return names.local_name(obj)


@register.filter
def minutes(value: int) -> str:
    """A duration in minutes as people say it: "5 min", "2 h 5 min", "3 d"."""
    value = int(value or 0)
    if value < 60:
        return ngettext("%(n)d min", "%(n)d min", value) % {"n": value}
    if value < 60 * 24:
        return _("%(h)d h %(m)d min") % {"h": value // 60, "m": value % 60}
    return ngettext("%(n)d day", "%(n)d days", value // 1440) % {"n": value // 1440}


@register.filter
def age(value: datetime | None) -> str:
    if value is None:
        return ""
    return minutes(int((timezone.now() - value).total_seconds() // 60))


@register.filter
def geo_uri(order) -> str:
    """Opens the address in the phone's map app (Android); the label is the address."""
    label = quote(order.address or "", safe="")
    return f"geo:{order.lat:.6f},{order.lng:.6f}?q={order.lat:.6f},{order.lng:.6f}({label})"


@register.filter
def map_url(order) -> str:
    """A maps link that works on any phone, iOS included (Amap's public URI API)."""
    name = quote(order.address or "", safe="")
    return f"https://uri.amap.com/marker?position={order.lng:.6f},{order.lat:.6f}&name={name}&coordinate=wgs84"


@register.filter
def distance(metres: int | None) -> str:
    if metres is None:
        return ""
    if metres < 1000:
        return _("%(m)d m") % {"m": metres}
    return _("%(km).1f km") % {"km": metres / 1000}


@register.filter
def hours(value) -> str:
    """1.50 → "1.5", 2.00 → "2"."""
    if value is None:
        return ""
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def public_description(order) -> str:
    """An order's description as an offer shows it: the resident's details masked."""
    return _public_description(order)


@register.simple_tag
def offer_counts(summary) -> str:
    """The desk board's "offered to 3 · 1 open · 2 declined": the template's four
    `blocktranslate`s, in one call (they were a fifth of rendering a board row)."""
    total = len(summary.rows)
    parts = [ngettext("offered to %(n)s", "offered to %(n)s", total) % {"n": total}]
    if summary.open:
        parts.append(_("%(n)s open") % {"n": summary.open})
    if summary.declined:
        parts.append(_("%(n)s declined") % {"n": summary.declined})
    if summary.lapsed:
        parts.append(_("%(n)s lapsed") % {"n": summary.lapsed})
    return conditional_escape(" · ".join(parts))


@register.simple_tag
def widens(summary) -> str:
    """When an offer is widened to more volunteers, counted down by desk.js ("__N__"). Built
    here rather than included: the desk's board shows it on up to 50 rows, and an include per
    row cost the desk page ~4 ms of its ~35 (docs/performance.md, "Third pass")."""
    label = _("Offered to more volunteers in __N__ min if nobody takes it")
    due = _("Being offered to more volunteers now")
    left = summary.minutes_left()
    return format_html(
        '<span class="countdown" data-deadline="{}" data-label="{}" data-due="{}">{}</span>',
        dateformat.format(timezone.localtime(summary.widens_at), "c"),
        label,
        due,
        fill_n(label, left) if left else due,
    )


@register.filter
def fill_n(text: str, n: int) -> str:
    """A sentence whose number the page's script keeps up to date ("__N__"), with its first value."""
    return str(text).replace("__N__", str(n))


@register.filter
def hours_unit(value) -> str:
    """Hours with their unit: "1.5 h" / "1.5 小时"."""
    if value is None:
        return ""
    return _("%(hours)s h") % {"hours": hours(value)}


@register.filter
def percent(value: float | None) -> str:
    """A 0–1 fraction as a whole percentage ("83%")."""
    return "—" if value is None else f"{value * 100:.0f}%"
