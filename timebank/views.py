"""Time-bank pages: my balance and history, items to redeem, the leaderboard; and the desk's
view of its volunteers' balances, redemptions and adjustments."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from orders.errors import OrderError
from orders.selectors import desk_branch_ids
from project.typing import AuthedHttpRequest
from timebank.forms import AdjustForm
from timebank.models import Entry
from timebank.selectors import (
    balance_of,
    desk_accounts,
    desk_entries,
    desk_member_ids,
    entries_of,
    items_on_offer,
    leaderboard,
)
from timebank.services import timebank_adjust, timebank_redeem


@login_required
def home(request: AuthedHttpRequest) -> HttpResponse:
    return render(
        request,
        "timebank/home.html",
        {
            "balance": balance_of(request.user.pk),
            "entries": entries_of(request.user.pk)[:100],
            "items": items_on_offer(),
            "leaders": leaderboard(limit=10),
        },
    )


@login_required
@require_POST
def redeem(request: AuthedHttpRequest) -> HttpResponse:
    raw = request.POST.get("item", "")
    try:
        redemption = timebank_redeem(user=request.user, item_id=int(raw) if raw.isdigit() else 0)
    except OrderError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Redeemed: %(item)s.") % {"item": redemption.item.name})
    return redirect("timebank:home")


@login_required
def board(request: AuthedHttpRequest) -> HttpResponse:
    return render(request, "timebank/leaderboard.html", {"leaders": leaderboard(limit=100)})


# --- the time-bank desk: secretaries and staff -------------------------------------------------


@login_required
def manage(request: AuthedHttpRequest) -> HttpResponse:
    """Balances of the volunteers of the caller's branches, their redemptions and the desk's
    adjustments; an adjustment goes through `timebank_adjust` (a new ledger entry, never an
    edit). Only people at a desk get here; a secretary sees their own branches' volunteers."""
    branch_ids = desk_branch_ids(request.user)
    if not branch_ids:
        raise Http404()
    members = desk_member_ids(branch_ids)
    search = (request.GET.get("q") or "").strip()[:60]
    people = [(row["user_id"], row["name"]) for row in desk_accounts(branch_ids, limit=2000)]
    form = AdjustForm(request.POST or None, people=people, initial={"user": request.GET.get("user")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            timebank_adjust(
                actor=request.user,
                user_id=data["user"],
                order_id=data["order"],
                amount=data["amount"],
                reason=data["reason"],
            )
        except OrderError as exc:
            for field, problems in (exc.fields or {}).items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
            if not exc.fields:
                form.add_error("order" if exc.code == "not_found" else None, exc.message)
        else:
            messages.success(request, _("Adjustment recorded."))
            return redirect(f"{reverse('timebank:manage')}?user={data['user']}")
    raw_user = request.GET.get("user") or ""
    chosen = int(raw_user) if raw_user.isdigit() and int(raw_user) in members else None
    return render(
        request,
        "timebank/manage.html",
        {
            "accounts": desk_accounts(branch_ids, search=search),
            "search": search,
            "form": form,
            "chosen": chosen,
            "chosen_name": dict(people).get(chosen) if chosen else None,
            "chosen_entries": entries_of(chosen)[:100] if chosen else [],
            "redemptions": desk_entries(members, kind=Entry.Kind.REDEMPTION),
            "adjustments": desk_entries(members, kind=Entry.Kind.ADJUSTMENT),
        },
    )
