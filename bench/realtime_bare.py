"""The baseline for bench/realtime.py: a bare Channels consumer that only forwards.

    daphne bench.realtime_bare:application

`/ws/?g=<name>` joins the groups `bare.<name>` and `bare.all`; every `bare.forward` message is
sent to the socket as is. No authentication, no outbox, no parsing: the floor that our
consumer's overhead is measured against, on the same channel layer.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class BareConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        name = parse_qs(self.scope["query_string"].decode()).get("g", ["x"])[0]
        self.bare_groups = [f"bare.{name}", "bare.all"]
        for group in self.bare_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "bare_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def bare_forward(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["text"])


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/", BareConsumer.as_asgi())])})

# The same garbage-collection policy as project/asgi.py: the ratio compares consumers, not GCs.
from project.runtime import tune_process  # noqa: E402

tune_process()
