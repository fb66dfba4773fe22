from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.compatibility)
def in_memory_layer_in_production(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """The in-memory channel layer reaches only sockets of the same process: with DEBUG off
    (several daphne processes) events would silently miss most phones."""
    backend = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
    if not settings.DEBUG and backend.endswith("InMemoryChannelLayer"):
        return [
            checks.Warning(
                "The in-memory channel layer is in use with DEBUG off.",
                hint="Set REDIS_URL so that every daphne and worker process shares one channel layer.",
                id="sandan.W001",
            )
        ]
    return []
