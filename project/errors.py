"""One error shape for the API: DRF's per-field 400s, and `{"code", "detail"}` for the rest."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DatabaseError
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import exception_handler

from orders.errors import OrderError, RateLimited

_CODES = {
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "not_permitted",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "too_large",
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def _raised_by_a_parser(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if isinstance(tb.tb_frame.f_locals.get("self"), BaseParser):
            return True
        tb = tb.tb_next
    return False


def _pool_exhausted(exc: BaseException) -> bool:
    """Whether `exc` comes from waiting DB_POOL_TIMEOUT for a free pooled connection."""
    from psycopg_pool import PoolTimeout

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PoolTimeout):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OrderError):
        refused = Response(exc.as_dict(), status=exc.status_code)
        if isinstance(exc, RateLimited):
            refused["Retry-After"] = str(exc.retry_after)
        return refused
    if isinstance(exc, DatabaseError) and _pool_exhausted(exc):
        # Every connection of this process's pool stayed busy: overload, not a fault. A 503
        # with Retry-After tells phones and load balancers to come back, where a 500 would not.
        busy = Response({"code": "busy", "detail": _("Sandan is busy; try again in a moment.")}, status=503)
        busy["Retry-After"] = "5"
        return busy
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        # Django would answer these with its HTML 400 page; phones get the API's shape.
        message = _("The request body is too large.")
        return Response({"code": "too_large", "detail": message, "non_field_errors": [message]}, status=400)
    if isinstance(exc, RecursionError) and _raised_by_a_parser(exc):
        # json.load gives up on absurdly nested bodies with RecursionError, which DRF's
        # JSONParser does not turn into a ParseError.
        message = _("The request body is nested too deeply.")
        return Response({"code": "parse_error", "detail": message, "non_field_errors": [message]}, status=400)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(response.data, dict):
            response.data = {"non_field_errors": response.data}
        return response
    if isinstance(response.data, dict) and "code" not in response.data:
        response.data["code"] = _CODES.get(response.status_code, "error")
    return response
