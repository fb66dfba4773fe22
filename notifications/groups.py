"""Channel-layer group names. Narrow by design: per user, per order, per branch desk."""

from __future__ import annotations


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def order_group(order_id: int) -> str:
    return f"order.{order_id}"


def branch_group(branch_id: int) -> str:
    return f"branch.{branch_id}"
