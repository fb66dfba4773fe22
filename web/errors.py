"""The "not found" page people see. Django's DEBUG 404 lists every URL of the site: nobody
using the pages (the demo runs with DEBUG on) should meet it, so every 404 of a page is
replaced by ours, which offers the way to the person's own start page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# Machine clients get the API's own JSON 404s; static files and the socket are not pages.
_NOT_PAGES = ("/api/", "/_allauth/", "/static/", "/ws/", "/open311/")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    response = render(request, "web/404.html", {}, status=404)
    response.sandan_page = True  # type: ignore[attr-defined]
    return response


class FriendlyNotFoundMiddleware:
    """Turns any 404 of a page into `page_not_found`, unless the view rendered a page of its
    own on purpose (it sets `response.sandan_page`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and not getattr(response, "sandan_page", False)
            and not request.path.startswith(_NOT_PAGES)
            and request.method in ("GET", "HEAD")
            and "json" not in request.headers.get("Accept", "")
        ):
            return page_not_found(request)
        return response
