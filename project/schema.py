"""What drf-spectacular cannot see from the views, added to the OpenAPI schema in one place:
the error responses every endpoint can give, in the API's error shape (project/errors.py),
and the bounds of `limit` and `offset` (project/pagination.py)."""

from __future__ import annotations

from typing import Any

from project.pagination import MAX_OFFSET

ERROR = {
    "type": "object",
    "description": "`code` says what went wrong, for programs; `detail` says it in words, for people.",
    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["code", "detail"],
}
INVALID = {
    "type": "object",
    "description": "Invalid input, nothing stored: each field named with its messages "
    "(`non_field_errors` for the body as a whole); `code` and `detail` when a rule refused it.",
    "properties": {
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}
_WHEN = {
    "400": ("Invalid", "invalid input; nothing was stored"),
    "401": ("Error", "not signed in"),
    "403": ("Error", "signed in but not allowed (`not_permitted`)"),
    "404": ("Error", "no such object, or not in the caller's scope (`not_found`)"),
    "409": ("Error", "the state does not allow it (`invalid_transition`, `already_claimed`, ...)"),
    "413": ("Error", "the body is too large (`too_large`)"),
    "415": ("Error", "the body's media type is not one the endpoint reads (`unsupported_media_type`)"),
    "429": ("Error", "too many requests (`throttled`); `Retry-After` says when to try again"),
    "503": ("Error", "busy (`busy`); `Retry-After` says when to try again"),
}
# Endpoints with a limit of their own: the rest never answer 429.
_THROTTLED = {("/api/v1/orders", "post"), ("/api/v1/realtime/ticket", "post")}
_BOUNDS = {"limit": {"minimum": 1}, "offset": {"minimum": 0, "maximum": MAX_OFFSET}}


def declare_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"], schemas["Invalid"] = ERROR, INVALID
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = ["400", "401", "403", "404", "503"]
            if method != "get":
                statuses += ["409", "413", "415"]
            if (path, method) in _THROTTLED:
                statuses.append("429")
            for status in statuses:
                name, when = _WHEN[status]
                operation["responses"].setdefault(
                    status,
                    {
                        "description": when,
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
                    },
                )
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter.get("name") in _BOUNDS:
                    parameter.setdefault("schema", {}).update(_BOUNDS[parameter["name"]])
    return result
