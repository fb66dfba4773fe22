"""A volunteer's hours beside what the time bank credited for them: each category credits at
most its `max_hours` per request (`timebank.services.timebank_credit_order`), so 4.5 hours
served can be 3.50 credited; the page says so instead of leaving the difference unexplained."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum

from orders.models import Order
from timebank.models import Entry


def hours_with_credits(user, orders: list[Order]) -> list[dict[str, Any]]:
    """Each completed order with the hours served, the hours credited so far (credits and the
    desk's corrections) and whether the category's cap cut them. Two queries in all."""
    credited = {
        row["order_id"]: row["total"]
        for row in Entry.objects.filter(account__user=user, order__in=orders)
        .exclude(kind=Entry.Kind.REDEMPTION)
        .values("order_id")
        .annotate(total=Sum("amount"))
    }
    rows = []
    for order in orders:
        served = order.hours or Decimal(0)
        cap = Decimal(order.category.max_hours)
        rows.append(
            {
                "order": order,
                "served": served,
                "credited": credited.get(order.pk),  # None until the resident confirms
                "cap": cap,
                "capped": served > cap,
            }
        )
    return rows
