"""Time-bank pages: my balance and history, items to redeem, the leaderboard. (The desk's view
of its volunteers' balances and its corrections is a page of the desk: web/timebank_desk.py.)"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.typing import AuthedHttpRequest
from core.errors import ServiceError
from timebank.selectors import balance_of, entries_of, items_on_offer, leaderboard
from timebank.services import timebank_redeem


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
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Redeemed: %(item)s.") % {"item": redemption.item.name})
    return redirect("timebank:home")


@login_required
def board(request: AuthedHttpRequest) -> HttpResponse:
    return render(request, "timebank/leaderboard.html", {"leaders": leaderboard(limit=100)})
