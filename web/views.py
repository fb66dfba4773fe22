"""The pages. Each view parses, calls one service (or selector) and renders; live parts of a
page are re-rendered as fragments (`?fragment=…`) when live.js hears an event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import ValidationError

from accounts.services import user_set_large_type
from core.geo import shown_distance_m
from matching.services import rank_for_order
from notifications.delivery.preferences import prefs_for
from orders import actions, services
from orders.attachments import order_attach
from orders.duplicates import likely_duplicates, nearby_open
from orders.errors import OrderError, OrderNotFound, RateLimited
from orders.models import Order
from orders.privacy import public_description, shown_actor, shown_text
from orders.selectors import can_see_personal_data, open_offers_for, order_get_for, order_list
from orders.states import ACTIONS, Role, allowed_from, may
from stats.exports import FORMATS, export
from volunteers.api import me_payload
from volunteers.models import Volunteer
from volunteers.services import volunteer_update
from web import desk as desk_lists
from web import exports, selectors
from web.forms import CallMeForm, DutyForm, LargeTypeForm, NearbyForm, OrderForm, action_data
from web.hours import hours_with_credits
from web.labels import STATUS_LABELS, error_message
from web.map import map_settings, order_place, pin_start
from web.offers import offer_summary
from web.reasons import plain_reasons

STATIC_DIR = Path(__file__).resolve().parent / "static" / "web"


def _me(request: HttpRequest) -> dict[str, Any]:
    if not hasattr(request, "_sandan_me"):
        request._sandan_me = me_payload(request.user)  # type: ignore[attr-defined]
    return request._sandan_me  # type: ignore[attr-defined]


def _page(request: HttpRequest, template: str, context: dict[str, Any], *, resident: bool = False) -> HttpResponse:
    """`resident`: one of the resident's pages, which offer large type (on the account)."""
    me = _me(request)
    base = {
        "me": me,
        "roles": set(me["roles"]),
        "is_desk": bool({"secretary", "staff"} & set(me["roles"])),
        "resident_page": resident,
        "large_type": resident and bool(getattr(request.user, "large_type", False)),
    }
    return render(request, template, {**base, **context})


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


# --- home --------------------------------------------------------------------------------------


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    roles = set(_me(request)["roles"])
    if roles & {"secretary", "staff"}:
        return redirect("web:desk")
    if "volunteer" in roles:
        return redirect("web:volunteer")
    return redirect("web:my-orders")


# --- resident ----------------------------------------------------------------------------------


@login_required
@never_cache
def my_orders(request: HttpRequest) -> HttpResponse:
    orders = list(order_list(request.user, role="resident").select_related("grid")[:100])
    for order in orders:
        # A request they follow is a neighbour's: its words as a follower may read them.
        order.following = order.resident_id != request.user.pk  # type: ignore[attr-defined]
        order.shown_description = (  # type: ignore[attr-defined]
            public_description(order) if order.following else order.description  # type: ignore[attr-defined]
        )
    if request.GET.get("fragment") == "list":
        return render(request, "web/partials/my_orders.html", {"orders": orders})
    return _page(request, "web/my_orders.html", {"orders": orders}, resident=True)


@login_required
@never_cache
def order_new(request: HttpRequest) -> HttpResponse:
    profile = getattr(request.user, "resident", None)
    has_home = profile is not None and profile.lat is not None and profile.lng is not None
    form = OrderForm(request.POST or None, request.FILES or None, has_home=has_home)
    retry_after: int | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        order_input = services.OrderInput(
            category=data["category"],
            description=data["description"],
            lat=data.get("lat"),
            lng=data.get("lng"),
            address=data.get("address") or None,
            contact_phone=data.get("contact_phone") or None,
            urgency=data["urgency"],
        )
        attachments = [(kind, data[kind]) for kind in ("photo", "voice") if data.get(kind)]
        sent, retry_after = _submit(
            request, form, order_input, attachments, _("Your request has been sent to the branch.")
        )
        if sent is not None:
            return sent
    context = {"form": form, "has_home": has_home, "map_config": map_settings(), "pin_start": pin_start(profile)}
    response = _page(request, "web/order_new.html", context, resident=True)
    if retry_after is not None:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@never_cache
@require_GET
def order_nearby(request: HttpRequest) -> HttpResponse:
    """The "already reported nearby?" part of the request form, re-rendered as the resident
    chooses a category, a place and types (web/static/web/nearby.js)."""
    form = NearbyForm(request.GET)
    rows = []
    if form.is_valid():
        data = form.cleaned_data
        lat, lng = data.get("lat"), data.get("lng")
        grid = data.get("grid")
        if (lat is None or lng is None) and grid is not None:
            lat, lng = grid.center_lat, grid.center_lng
        try:
            rows = nearby_open(request.user, category=data["category"], lat=lat, lng=lng, text=data.get("text") or "")
        except OrderError:
            rows = []
    return render(request, "web/partials/nearby.html", {"nearby": rows})


def _submit(
    request: HttpRequest,
    form: Any,
    order_input: services.OrderInput,
    attachments: list[tuple[str, Any]],
    done: str,
) -> tuple[HttpResponse | None, int | None]:
    """Submit through the service: the answer on success, or the form's errors (and, for a
    resident over the rate, when to retry)."""
    try:
        # The order and its photo / voice note land together or not at all. The form's key
        # makes a resend (a phone that lost the answer, a request sent again once back
        # online) return the first order, not a second.
        order, _created = services.order_submit(
            resident=request.user,
            data=order_input,
            idempotency_key=form.cleaned_data.get("key") or None,
            attachments=attachments,
        )
    except OrderError as error:
        for field, errors in (error.fields or {}).items():
            target = {"lat": "grid"}.get(field, field)
            for message in errors:
                form.add_error(target if target in form.fields else None, message)
        if not error.fields:
            form.add_error(None, error_message(error))
        # The form comes back as typed, with when to retry.
        return None, error.retry_after if isinstance(error, RateLimited) else None
    messages.success(request, done)
    if request.headers.get("X-Requested-With") == "fetch":
        # The form's script opens the order itself (and the message waits for that page).
        return JsonResponse({"ok": True, "url": reverse("web:order", args=[order.pk])}), None
    return redirect("web:order", order_id=order.pk), None


@login_required
@never_cache
def order_call_me(request: HttpRequest) -> HttpResponse:
    """ "Call me back" on one screen: a category and, if they like, a voice note; the desk
    sees it first and calls (Order.Kind.CALLBACK)."""
    profile = getattr(request.user, "resident", None)
    has_home = profile is not None and profile.lat is not None and profile.lng is not None
    has_phone = bool(profile is not None and profile.phone)
    form = CallMeForm(request.POST or None, request.FILES or None, has_home=has_home, has_phone=has_phone)
    retry_after: int | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        grid = data.get("grid")
        order_input = services.OrderInput(
            category=data["category"],
            # Words for whoever opens it; the kind is what the desk sorts and marks by.
            description=_("Please call me back."),
            lat=grid.center_lat if grid else None,
            lng=grid.center_lng if grid else None,
            contact_phone=data.get("contact_phone") or None,
            kind=Order.Kind.CALLBACK,
        )
        attachments = [("voice", data["voice"])] if data.get("voice") else []
        sent, retry_after = _submit(
            request, form, order_input, attachments, _("Thank you. We will call you back soon.")
        )
        if sent is not None:
            return sent
    response = _page(request, "web/call_me.html", {"form": form}, resident=True)
    if retry_after is not None:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response


@login_required
@require_POST
def order_follow(request: HttpRequest, order_id: int) -> HttpResponse:
    """ "This is mine too": follow the neighbour's request instead of sending one's own."""
    try:
        services.order_follow(order_id=order_id, user=request.user)
    except OrderNotFound:
        messages.error(request, _("That request is no longer open."))
        return redirect("web:order-new")
    except OrderError as error:
        messages.error(request, error_message(error))
        return redirect("web:order-new")
    messages.success(request, _("Added: you follow this request and will hear of each step."))
    return redirect("web:order", order_id=order_id)


@login_required
@require_POST
def large_type(request: HttpRequest) -> HttpResponse:
    """The large-type switch of the resident's pages: kept on their account."""
    form = LargeTypeForm(request.POST)
    form.is_valid()
    user_set_large_type(user=request.user, on=form.cleaned_data.get("on", False))
    return redirect(_safe_next(request, reverse("web:my-orders")))


# --- one order, every role ---------------------------------------------------------------------


def _order_context(request: HttpRequest, order: Order, roles: set[Role]) -> dict[str, Any]:
    available = {a for a in ACTIONS if may(a, roles) and allowed_from(a, order.status)}
    desk = bool(roles & {Role.SECRETARY, Role.STAFF})
    personal = can_see_personal_data(roles, order)
    timeline = list(order.events.select_related("actor").order_by("at", "id"))
    for event in timeline:
        # As the API shows them: no resident's name or phone to whom may not see them.
        event.shown_actor = shown_actor(event, order, personal=personal)  # type: ignore[attr-defined]
        event.shown_note = shown_text(event.note, order, personal=personal)  # type: ignore[attr-defined]
    rating = order.ratings.order_by("-created_at").first()
    context: dict[str, Any] = {
        "order": order,
        "order_roles": {str(r) for r in roles},
        "personal": personal,
        "description": shown_text(order.description, order, personal=personal),
        "timeline": timeline,
        "can": available,
        "desk": desk,
        "clock": selectors.clock_for(order),
        "rating": rating,
        "rating_comment": shown_text(rating.comment, order, personal=personal) if rating else None,
        "map_config": map_settings(),
    }
    if context["personal"]:
        context["attachments"] = list(order.attachments.all())
        context["place"] = order_place(order, personal=True)
    if desk:
        context["offers"] = offer_summary(order)
    if desk and "transfer" in available:
        context["transfer_targets"] = selectors.transfer_targets(request.user, order)
    if desk and "merge" in available:
        context["duplicates"] = likely_duplicates(request.user, order.pk)
    if desk or Role.RESIDENT in roles:
        context["followers"] = order.followers.count()
    context["following"] = Role.FOLLOWER in roles and Role.RESIDENT not in roles
    if desk and "dispatch" in available:
        context["candidates"] = _candidates(order)
        context["candidates_api"] = selectors.api_route_exists(
            f"/api/v1/orders/{order.pk}/candidates", not_named="order-action"
        )
    return context


def _candidates(order: Order) -> list[dict[str, Any]]:
    ranked = rank_for_order(order, limit=10)
    people = Volunteer.objects.select_related("user").in_bulk([r.volunteer_id for r in ranked])
    rows = []
    for r in ranked:
        volunteer = people.get(r.volunteer_id)
        if volunteer is None:
            continue
        rows.append(
            {
                "id": r.volunteer_id,
                "name": str(volunteer.user),
                "score": r.score,
                "distance_m": shown_distance_m(r.distance_m),
                "reasons": plain_reasons(r.reasons, r.details),
                "scope": getattr(r, "scope", ""),
            }
        )
    return rows


@login_required
@never_cache
def order_page(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order, roles = order_get_for(request.user, order_id)
    except OrderNotFound:
        raise Http404() from None
    context = _order_context(request, order, roles)
    if request.GET.get("fragment") == "live":
        return render(request, "web/partials/order_live.html", context)
    return _page(request, "web/order.html", context, resident=Role.RESIDENT in roles)


@login_required
@require_POST
def order_act(request: HttpRequest, order_id: int, action: str) -> HttpResponse:
    """One lifecycle action from a button or form; JSON for the page's scripts."""
    if action not in ACTIONS:
        raise Http404()
    back = _safe_next(request, reverse("web:order", args=[order_id]))
    data = action_data(request.POST)
    if action == "dispatch" and "volunteer" in data and "mode" not in data:
        data["mode"] = "direct"  # the "offer to them" button of a candidate row
    photo = request.FILES.get("photo")
    # The form's one-time key (or the queue's, for a tap kept while offline): sent again, the
    # action is taken once and answers as the first time.
    key = (data.pop("key", None) or request.headers.get("Idempotency-Key") or "")[:128] or None
    try:
        with transaction.atomic():
            result = actions.order_act(
                order_id=order_id, user=request.user, action=action, data=data, idempotency_key=key
            )
            if photo is not None and action == "complete" and not result.replayed:
                order_attach(order_id=order_id, user=request.user, kind="photo", upload=photo)
    except (OrderError, ValidationError) as raised:
        error: Exception = raised
        if isinstance(raised, ValidationError):
            error = _FormProblem(" ".join(_messages(raised.detail)))
        code = getattr(error, "code", "invalid")
        text = error_message(error)
        if _wants_json(request):
            answer = {"ok": False, "code": code, "message": text}
            now = _status_now(request, order_id)
            if now:
                answer["now"] = now
            return JsonResponse(answer, status=getattr(error, "status_code", 400))
        messages.error(request, text)
        return redirect(back)
    text = _done_message(action)
    if _wants_json(request):
        return JsonResponse(
            {
                "ok": True,
                "code": "ok",
                "message": text,
                "status": result.status,
                "order": order_id,
                "replayed": result.replayed,
            }
        )
    messages.success(request, text)
    return redirect(back)


def _status_now(request: HttpRequest, order_id: int) -> str:
    """Where a refused action's order stands now, in words, if this person may still see it:
    a tap kept without signal may reach an order that moved on meanwhile."""
    try:
        order, _roles = order_get_for(request.user, order_id)
    except OrderNotFound:
        return ""
    return str(STATUS_LABELS.get(order.status, order.status))


def _messages(detail: Any) -> list[str]:
    """Every message of a DRF error detail (a dict of lists, a list, or one string)."""
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _messages(value)]
    return [str(detail)]


class _FormProblem(Exception):
    code = "invalid"
    status_code = 400

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _done_message(action: str) -> str:
    from web.labels import ACTION_DONE

    return str(ACTION_DONE.get(action, _("Done.")))


# --- volunteer ---------------------------------------------------------------------------------


def _volunteer_or_404(request: HttpRequest) -> Volunteer:
    volunteer = Volunteer.objects.filter(user_id=cast(int, request.user.pk)).first()
    if volunteer is None:
        raise Http404()
    return volunteer


@login_required
@never_cache
def volunteer_home(request: HttpRequest) -> HttpResponse:
    volunteer = _volunteer_or_404(request)
    fragment = request.GET.get("fragment")
    offers = open_offers_for(request.user)[:50]
    tasks = selectors.volunteer_tasks(request.user)
    if fragment == "offers":
        return render(request, "web/partials/offers.html", {"offers": offers})
    if fragment == "tasks":
        return render(request, "web/partials/tasks.html", {"tasks": tasks})
    context = {"volunteer": volunteer, "offers": offers, "tasks": tasks, "alerts": prefs_for(volunteer.user_id)}
    return _page(request, "web/volunteer.html", context)


@login_required
@require_POST
def volunteer_duty(request: HttpRequest) -> HttpResponse:
    form = DutyForm(request.POST)
    form.is_valid()
    try:
        volunteer = volunteer_update(user=request.user, data={"on_duty": form.cleaned_data.get("on_duty", False)})
    except OrderError as error:
        if _wants_json(request):
            return JsonResponse({"ok": False, "message": error_message(error)}, status=error.status_code)
        raise Http404() from None
    if _wants_json(request):
        return JsonResponse({"ok": True, "on_duty": volunteer.on_duty})
    return redirect("web:volunteer")


@login_required
@never_cache
def volunteer_hours(request: HttpRequest) -> HttpResponse:
    _volunteer_or_404(request)
    context = selectors.volunteer_hours(request.user)
    context["rows"] = hours_with_credits(request.user, context["orders"])
    context["timebank"] = selectors.api_route_exists("/api/v1/me/timebank")
    return _page(request, "web/hours.html", context)


# --- desk: secretary and staff -----------------------------------------------------------------


@login_required
@never_cache
def desk(request: HttpRequest) -> HttpResponse:
    branches = list(selectors.desk_branches(request.user))
    if not branches:
        raise Http404()
    try:
        branch_id = int(request.GET.get("branch", "")) if request.GET.get("branch") else None
    except ValueError:
        branch_id = None
    if branch_id is not None and branch_id not in {b.pk for b in branches}:
        branch_id = None
    is_staff = "staff" in _me(request)["roles"]
    # "Show all": every order of the panels, as before they were paged (desk_lists.PAGE_SIZE).
    everything = request.GET.get("all") == "1"
    panel = {"branch_id": branch_id, "everything": everything}
    fragment = request.GET.get("fragment")
    if fragment == "queue":
        return render(
            request,
            "web/partials/queue.html",
            {**panel, **desk_lists.desk_queue(request.user, branch_id=branch_id, everything=everything)},
        )
    if fragment == "board":
        return render(
            request,
            "web/partials/board.html",
            {**panel, **desk_lists.desk_board(request.user, branch_id=branch_id, everything=everything)},
        )
    if fragment == "escalations":
        return render(
            request,
            "web/partials/escalations.html",
            {"escalations": selectors.desk_escalations(request.user, branch_id=branch_id)},
        )
    context = {
        **panel,
        **desk_lists.desk_queue(request.user, branch_id=branch_id, everything=everything),
        **desk_lists.desk_board(request.user, branch_id=branch_id, everything=everything),
        "branches": branches,
        "is_staff": is_staff,
        "batch_api": selectors.api_route_exists("/api/v1/orders/batch/propose"),
        "map_config": map_settings(),
    }
    if is_staff:
        context["escalations"] = selectors.desk_escalations(request.user, branch_id=branch_id)
    return _page(request, "web/desk.html", context)


@login_required
@never_cache
def desk_orders(request: HttpRequest) -> HttpResponse:
    """Every order of the caller's desks, filtered; the same rows as the files below."""
    branches = list(selectors.desk_branches(request.user))
    if not branches:
        raise Http404()
    form = exports.OrderFilters(request.GET or None, branches=branches)
    values = form.values()
    qs = exports.filtered(request.user, values)
    total = qs.count()
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    start = (page - 1) * exports.PAGE_SIZE
    rows = list(exports.rows(qs[start : start + exports.PAGE_SIZE]))
    query = request.GET.copy()
    query.pop("page", None)
    return _page(
        request,
        "web/desk_orders.html",
        {
            "form": form,
            "columns": exports.COLUMNS,
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // exports.PAGE_SIZE)),
            "query": query.urlencode(),
        },
    )


@login_required
@never_cache
def desk_orders_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The desk's order list with the page's filters, every row, as .xlsx or CSV (streamed)."""
    branches = list(selectors.desk_branches(request.user))
    if not branches or fmt not in FORMATS:
        raise Http404()
    values = exports.OrderFilters(request.GET or None, branches=branches).values()
    name = f"orders-{timezone.localdate():%Y%m%d}"
    return export(fmt, exports.COLUMNS, exports.rows(exports.filtered(request.user, values)), name, title=_("Orders"))


# --- installable app ---------------------------------------------------------------------------


SHELL_ASSETS = [
    "web/app.css",
    "web/app.js",
    "web/live.js",
    "web/volunteer.js",
    "web/alerts.js",
    "web/outbox.js",
    "web/action-queue.js",
    "web/icons/icon-192.png",
]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from the root so that its scope covers every page (a worker under /static/
    could only control /static/). The shell list carries the real (hashed) static URLs."""
    shell = [reverse("web:offline"), *(static(path) for path in SHELL_ASSETS)]
    code = (
        (STATIC_DIR / "sw.js")
        .read_text()
        .replace("__SHELL__", json.dumps(shell))
        .replace("__QUEUE__", json.dumps(static("web/action-queue.js")))
    )
    response = HttpResponse(code, content_type="application/javascript")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest. One app for every role: it starts at `/`, which sends each person
    to their own page (desk, volunteer, my requests), so installing never leads to a 404."""
    icons = [
        {"src": static("web/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static("web/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {"src": static("web/icons/maskable-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
    ]
    data = {
        "id": "/",
        "name": _("Sandan"),
        "short_name": _("Sandan"),
        "description": _("Neighbours helping neighbours"),
        "start_url": reverse("web:home"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f6f4f1",
        "theme_color": "#b71c1c",
        "lang": get_language() or "zh-hans",
        "icons": icons,
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "web/offline.html", {})
