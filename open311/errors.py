"""GeoReport v2 errors: a list of `{code, description}` and an HTTP status.

The spec: 404 for a resource that does not exist (an id, a service_code, a jurisdiction),
403 for a wrong or missing api_key, 400 for any other request that cannot be fulfilled.
`code` in the body is the HTTP status, as in the spec's own example."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    code: int
    description: str


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.problems = [Problem(status, d) for d in descriptions]
        self.headers = headers or {}
        super().__init__("; ".join(descriptions))


class BadRequest(Open311Error):
    def __init__(self, *descriptions: str) -> None:
        super().__init__(400, *descriptions)


class Forbidden(Open311Error):
    def __init__(self, *descriptions: str) -> None:
        super().__init__(403, *descriptions)


class NotFound(Open311Error):
    def __init__(self, *descriptions: str) -> None:
        super().__init__(404, *descriptions)


class RateLimited(Open311Error):
    def __init__(self, description: str, retry_after: int) -> None:
        super().__init__(429, description, headers={"Retry-After": str(retry_after)})
