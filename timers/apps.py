from __future__ import annotations

from django.apps import AppConfig


class TimersConfig(AppConfig):
    name = "timers"
    verbose_name = "SLA timers and the worker"

    def ready(self) -> None:
        from timers.embedded import start_if_enabled

        start_if_enabled()
