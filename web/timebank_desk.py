"""The time-bank desk: the balances of the volunteers of the caller's branches, their
redemptions and the desk's corrections. A page of the desk (it corrects the hours an order
credited, which is the order's business), so it lives with the pages, not in timebank/."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.typing import AuthedHttpRequest
from core.errors import ServiceError
from orders.services import order_timebank_adjust
from timebank.forms import AdjustForm
from timebank.models import Entry
from timebank.selectors import desk_accounts, desk_entries, desk_member_ids, entries_of
from volunteers.selectors import desk_branch_ids


@login_required
def manage(request: AuthedHttpRequest) -> HttpResponse:
    """Balances of the volunteers of the caller's branches, their redemptions and the desk's
    adjustments; an adjustment goes through `orders.services.order_timebank_adjust` (who may
    adjust is the order's business; the ledger gets a new entry, never an edit). Only people at
    a desk get here; a secretary sees their own branches' volunteers."""
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
            order_timebank_adjust(
                actor=request.user,
                user_id=data["user"],
                order_id=data["order"],
                amount=data["amount"],
                reason=data["reason"],
            )
        except ServiceError as exc:
            for field, problems in (exc.fields or {}).items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
            if not exc.fields:
                form.add_error("order" if exc.code == "not_found" else None, exc.message)
        else:
            messages.success(request, _("Adjustment recorded."))
            return redirect(f"{reverse('web:timebank-desk')}?user={data['user']}")
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
