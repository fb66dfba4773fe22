"""Django's PostgreSQL backend, reading timestamps and JSON with psycopg's compiled loaders.

Why: Django registers a timestamptz loader of its own, a Python subclass of psycopg's pure
Python one, so that every value gets the connection's time zone put back on it; and a Python
text loader for jsonb. psycopg's C extension (psycopg[binary]) has both compiled, but Django's
registration replaces them on every connection. A page of 50 orders carries some 450 timestamps:
about 4 µs more each through Django's loader than through the compiled one, over a
millisecond of every list request (docs/performance.md, "Ninth pass").

When the two give the same values, and only then, this backend keeps the compiled ones: with
USE_TZ on and the connection's time zone UTC (Django's own default when the database has no
TIME_ZONE), Django's loader parses the value in the session's zone, UTC, and replaces its
tzinfo by UTC; the compiled one parses it in the session's zone, UTC, and that is all. Anything
else (USE_TZ off: naive datetimes; a database TIME_ZONE) keeps Django's loaders as they are.
"""

from __future__ import annotations

import datetime
import importlib
from functools import cache
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe
from psycopg import adapt

compiled: Any
try:  # the compiled implementation, which psycopg[binary] (requirements.txt) brings
    compiled = importlib.import_module("psycopg_binary._psycopg")
except ImportError:  # psycopg without it (pure Python): Django's loaders, as they are
    compiled = None


@cache
def _compiled_adapters(template: adapt.AdaptersMap) -> adapt.AdaptersMap:
    adapters = adapt.AdaptersMap(template)
    adapters.register_loader("timestamptz", compiled.TimestamptzLoader)
    adapters.register_loader("jsonb", compiled.TextLoader)  # as Django's: JSONField parses the text
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def _compiled_loaders(self) -> bool:
        return compiled is not None and settings.USE_TZ and self.timezone is datetime.UTC

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if self._compiled_loaders:
            params["context"] = _compiled_adapters(params["context"])
        return params

    @async_unsafe
    def create_cursor(self, name: str | None = None) -> Any:
        if not self._compiled_loaders:
            return super().create_cursor(name)
        # Django's own, less its check of the connection's timestamptz loader against the
        # connection's time zone (the compiled loader has no `timezone`; the two agree here).
        if not name:
            return self.connection.cursor()
        if self.settings_dict["OPTIONS"].get("server_side_binding") is not True:
            return base.ServerSideCursor(  # type: ignore[attr-defined]  # not in django-stubs
                self.connection, name=name, scrollable=False, withhold=self.connection.autocommit
            )
        return self.connection.cursor(name, scrollable=False, withhold=self.connection.autocommit)
