"""The active categories as `GET /api/v1/categories` lists them, kept in the cache.

Every request form a phone opens asks for them, and they change only when an operator edits
one in the admin: reading and rendering them (two statements and a serializer) was 1.8 of the
3.7 ms a request took in-process (docs/performance.md, "Fifth pass"). They are forgotten when
a category, its skills or a skill's code changes, once that change commits; the expiry only
bounds what a write racing a read could leave behind (read before the commit, kept after it).
The list is the same for every caller and language (names in every language are fields of it).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from orders.models import Category
from orders.serializers import CategorySerializer
from volunteers.models import Skill

KEY = "orders:categories:v1"
SECONDS = 600


def active_categories() -> list[dict[str, Any]]:
    """The active categories, rendered; from the cache when it has them."""
    found = cache.get(KEY)
    if found is not None:
        return found  # type: ignore[no-any-return]
    rows = Category.objects.filter(active=True).prefetch_related("skills")
    rendered = [dict(item) for item in CategorySerializer(rows, many=True).data]
    cache.set(KEY, rendered, SECONDS)
    return rendered


def forget_categories(**_: Any) -> None:
    """Drop the kept list once the change that made it stale commits (now, outside a transaction)."""
    transaction.on_commit(lambda: cache.delete(KEY))


def connect() -> None:
    """Forget the list on every change that shows in it (called once, from the app's ready())."""
    for model in (Category, Skill):
        post_save.connect(forget_categories, sender=model, dispatch_uid=f"categories-saved-{model.__name__}")
        post_delete.connect(forget_categories, sender=model, dispatch_uid=f"categories-deleted-{model.__name__}")
    m2m_changed.connect(forget_categories, sender=Category.skills.through, dispatch_uid="categories-skills")
