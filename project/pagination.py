"""Paging of every API list: `limit` and `offset`, bounded.

DRF's LimitOffsetPagination takes any offset, and a number past 2**63 reached the database
and ended in a 500 (bigint out of range). Here both are checked: `limit` 1 or more (above
`max_limit` it is `max_limit`), `offset` 0 to MAX_OFFSET; anything else is a 400 naming the
parameter. Views get the class as `api_settings.DEFAULT_PAGINATION_CLASS` (settings)."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

# Far beyond any list a caller can page through, far below the database's integers.
MAX_OFFSET = 1_000_000
_DIGITS = re.compile(r"[0-9]+")


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200

    def get_limit(self, request: Request) -> int:
        limit = _number(request, self.limit_query_param, default=self.default_limit, low=1)
        return min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return _number(request, self.offset_query_param, default=0, low=0, high=MAX_OFFSET)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_limit)
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"].update(minimum=0, maximum=MAX_OFFSET)
        return parameters


def _number(request: Request, name: str, *, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not _DIGITS.fullmatch(raw) or int(raw) < low:
        raise ValidationError({name: [_("Give a whole number of at least %(low)s.") % {"low": low}]})
    value = int(raw)
    if high is not None and value > high:
        raise ValidationError({name: [_("Give a number of at most %(high)s.") % {"high": high}]})
    return value
