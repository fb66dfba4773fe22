"""One error shape for the API: DRF's per-field 400s, and `{"code", "detail"}` for the rest.

`error_response` answers an error raised outside a DRF view (the input middleware, an
unknown /api/v1 path) in the shape the caller's part of the site speaks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
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
    if isinstance(exc, RequestDataTooBig):
        # Django would answer these with its HTML 400 page; phones get the API's shape.
        message = _("The request body is too large.")
        return Response({"code": "too_large", "detail": message, "non_field_errors": [message]}, status=413)
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        message = _("The request has too many fields.")
        return Response({"code": "too_many_fields", "detail": message, "non_field_errors": [message]}, status=400)
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


def error_response(
    request: HttpRequest, *, status: int, code: str, detail: str, fields: dict[str, list[str]] | None = None
) -> HttpResponse:
    """An error answered before (or instead of) a view: GeoReport's own format under
    /open311/, the API's `{"code", "detail", field: [...]}` for the API and JSON callers,
    plain text for the pages."""
    path = request.path
    if path.startswith("/open311/"):
        from open311.errors import Open311Error
        from open311.renderers import render_error

        # GeoReport v2 knows 400, 403, 404 (and the 429 of a rate): a body too large is a 400.
        return render_error("json" if path.endswith(".json") else "xml", Open311Error(min(status, 400), detail))
    wants_json = "json" in request.headers.get("Accept", "") or "json" in (request.content_type or "")
    if path.startswith(("/api/", "/_allauth/")) or wants_json:
        return JsonResponse({"code": code, "detail": detail, **(fields or {})}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any /api/v1/ path no endpoint matches: the API's 404, not Django's HTML page."""
    return error_response(request, status=404, code="not_found", detail=_("There is no such API endpoint."))
