"""The person's own settings."""

from __future__ import annotations


def user_set_large_type(*, user, on: bool) -> None:
    """Twice the type and the tap targets on the resident's pages, on every phone they use."""
    user.large_type = on
    user.save(update_fields=["large_type"])
