"""The one navigation every page shows: which links a person gets follows from their roles
(a volunteer profile, a secretary seat, a staff seat), read once per request and only when a
template asks for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from volunteers.models import Area, Branch, Volunteer


def roles_of_user(user) -> frozenset[str]:
    """The person's roles, as `/api/v1/me` names them, in three cheap EXISTS queries."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    roles = {"resident"}
    if Volunteer.objects.filter(user_id=user.pk).exists():
        roles.add("volunteer")
    if Branch.objects.filter(secretaries=user).exists():
        roles.add("secretary")
    if Area.objects.filter(staff=user).exists():
        roles.add("staff")
    return frozenset(roles)


def request_roles(request: HttpRequest) -> frozenset[str]:
    """The caller's roles, computed once per request (the views' `me` payload if it is there)."""
    cached = getattr(request, "_sandan_roles", None)
    if cached is None:
        me = getattr(request, "_sandan_me", None)
        cached = frozenset(me["roles"]) if me is not None else roles_of_user(request.user)
        request._sandan_roles = cached  # type: ignore[attr-defined]
    return cached


@dataclass(frozen=True)
class Link:
    url: str
    label: Any
    current: bool


# (url name, label, roles that get it); the first match of the path marks the current page.
_LINKS = [
    ("web:my-orders", _("My requests"), {"resident"}),
    ("web:volunteer", _("Volunteer"), {"volunteer"}),
    ("timebank:home", _("My time bank"), {"volunteer"}),
    ("web:desk", _("Desk"), {"secretary", "staff"}),
    ("stats:dashboard", _("Statistics"), {"secretary", "staff"}),
    ("stats:samples", _("Call-back reviews"), {"staff"}),
    ("web:timebank-desk", _("Time bank desk"), {"secretary", "staff"}),
]


def nav_links(request: HttpRequest) -> list[Link]:
    roles = request_roles(request)
    links = []
    found = False
    # The longest matching prefix is the current page (/timebank/manage/ is not /timebank/);
    # "My requests" only for the list and the form: an order's page is also the desk's.
    urls = [(reverse(name), label, wanted) for name, label, wanted in _LINKS if roles & wanted]
    mine = reverse("web:my-orders")

    def matches(url: str) -> bool:
        if url == mine:
            return request.path in (mine, reverse("web:order-new"))
        return request.path.startswith(url)

    best = max((url for url, _label, _w in urls if matches(url)), key=len, default=None)
    for url, label, _wanted in urls:
        current = not found and url == best
        found = found or current
        links.append(Link(url=url, label=label, current=current))
    return links


def nav(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `nav_links` and `nav_roles`, evaluated only if a template uses them."""
    return {
        "nav_links": SimpleLazyObject(lambda: nav_links(request)),
        "nav_roles": SimpleLazyObject(lambda: request_roles(request)),
    }
