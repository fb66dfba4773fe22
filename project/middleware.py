"""Input that no part of Sandan can take, refused in one place before any view runs.

A NUL character cannot be stored in PostgreSQL text (and is never meaningful input): one in
a query parameter, a form field or a JSON string used to reach a query and end in a 500.
This middleware refuses it with a 400 naming the parameter, for every endpoint (the API,
Open311, the pages, allauth): path, query string, form and multipart fields, JSON strings.
A body beyond DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 here too, since the check reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

from project.errors import error_response

# A \u0000 escape in JSON text: preceded by an even number of backslashes (\\u0000 is text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _with_nul(data: QueryDict) -> str | None:
    for key, values in data.lists():
        if "\x00" in key or any("\x00" in v for v in values):
            return key.replace("\x00", "") or "non_field_errors"
    return None


def _json_with_nul(value: Any, top: str | None = None) -> Iterator[str]:
    """The top-level keys under which a NUL hides, anywhere below them."""
    if isinstance(value, str):
        if "\x00" in value:
            yield top or "non_field_errors"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = top or key.replace("\x00", "") or "non_field_errors"
            if "\x00" in key:
                yield name
            yield from _json_with_nul(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _json_with_nul(item, top)


class RefuseUnstorableInput:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            field = self._field_with_nul(request)
        except RequestDataTooBig:
            return error_response(request, status=413, code="too_large", detail=_("The request body is too large."))
        except (TooManyFieldsSent, TooManyFilesSent):
            return error_response(
                request, status=400, code="too_many_fields", detail=_("The request has too many fields.")
            )
        except MultiPartParserError:
            return error_response(request, status=400, code="parse_error", detail=_("The form data is malformed."))
        if field is not None:
            message = _("Null characters are not allowed.")
            return error_response(request, status=400, code="invalid", detail=message, fields={field: [message]})
        return self.get_response(request)

    def _field_with_nul(self, request: HttpRequest) -> str | None:
        if "\x00" in request.path:
            return "path"
        query = request.META.get("QUERY_STRING", "")
        if "%00" in query or "\x00" in query:
            return _with_nul(request.GET) or "non_field_errors"
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        kind = request.content_type or ""
        if kind == "multipart/form-data":
            return _with_nul(request.POST)  # files may hold any bytes; their names are not stored
        if kind == "application/x-www-form-urlencoded":
            if b"%00" in request.body or b"\x00" in request.body:
                return _with_nul(request.POST) or "non_field_errors"
            return None
        if "json" in kind and _JSON_NUL.search(request.body):
            try:
                return next(_json_with_nul(json.loads(request.body)), "non_field_errors")
            except ValueError:
                return None  # not JSON after all: the view's parser says so
            except RecursionError:
                return "non_field_errors"  # nested beyond reason, and a NUL in it
        return None
