"""GeoReport v2 endpoints: parse, call one selector or service, render in the asked format.

Every answer, errors included, is in the format of the URL's suffix (.xml or .json)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from open311 import payloads, selectors, services
from open311.errors import BadRequest, NotFound, Open311Error, RateLimited
from open311.models import ServiceAttribute
from open311.params import parse_filing, parse_query
from open311.renderers import render, render_error
from orders.errors import OrderError
from orders.errors import RateLimited as OrderRateLimited

View = Callable[..., HttpResponse]
# Sandan's own keys hold 128 characters; the client's id is prefixed to this one.
MAX_IDEMPOTENCY_KEY = 100


def open311_view(*methods: str) -> Callable[[View], View]:
    """Method check, jurisdiction check and the spec's error format around a view."""

    def wrap(view: View) -> View:
        @csrf_exempt
        @functools.wraps(view)
        def inner(request: HttpRequest, *args, fmt: str, **kwargs) -> HttpResponse:
            allowed = (*methods, "HEAD") if "GET" in methods else methods
            try:
                if request.method not in allowed:
                    error = Open311Error(405, _("Method %(method)s is not allowed here.") % {"method": request.method})
                    response = render_error(fmt, error)
                    response["Allow"] = ", ".join(allowed)
                    return response
                _check_jurisdiction(request)
                response = view(request, *args, fmt=fmt, **kwargs)
            except Open311Error as error:
                response = render_error(fmt, error)
            except (RequestDataTooBig, TooManyFieldsSent):
                response = render_error(fmt, BadRequest(_("The request body is too large.")))
            except OrderRateLimited as error:
                # The resident's own ORDER_SUBMIT_RATE, beside the client's rate: the same 429.
                response = render_error(fmt, RateLimited(error.message, retry_after=error.retry_after))
            except OrderError as error:
                # A rule of the order services the parsing above did not foresee: the spec
                # knows 403 and 404, and 400 for any other request that cannot be fulfilled.
                status = error.status_code if error.status_code in (403, 404) else 400
                messages = [m for field in (error.fields or {}).values() for m in field] or [error.message]
                response = render_error(fmt, Open311Error(status, *messages))
            if request.method in ("GET", "HEAD"):
                # Reads are public and carry no credentials: browser dashboards may fetch them.
                response["Access-Control-Allow-Origin"] = "*"
            return response

        return inner

    return wrap


def _check_jurisdiction(request: HttpRequest) -> None:
    # One jurisdiction is served, so the argument is optional; a different one is not here.
    given = (request.POST.get("jurisdiction_id") if request.method == "POST" else None) or request.GET.get(
        "jurisdiction_id"
    )
    if given and given.strip() != settings.OPEN311_JURISDICTION:
        raise NotFound(_("jurisdiction_id %(id)s was not found.") % {"id": given.strip()})


@open311_view("GET")
def discovery(request: HttpRequest, *, fmt: str) -> HttpResponse:
    changed = ServiceAttribute.objects.aggregate(at=Max("updated_at"))["at"]
    return render(fmt, "discovery", payloads.discovery_payload(request, changed))


@open311_view("GET")
def service_list(request: HttpRequest, *, fmt: str) -> HttpResponse:
    return render(fmt, "services", [payloads.service_payload(c) for c in selectors.service_list()])


@open311_view("GET")
def service_definition(request: HttpRequest, code: str, *, fmt: str) -> HttpResponse:
    category = selectors.service_get(code)
    if category is None:
        raise NotFound(_("service_code %(code)s was not found.") % {"code": code})
    return render(fmt, "service_definition", payloads.definition_payload(category))


@open311_view("GET", "POST")
def requests(request: HttpRequest, *, fmt: str) -> HttpResponse:
    if request.method == "POST":
        client = services.client_authenticate(api_key=(request.POST.get("api_key") or "").strip())
        services.client_check_rate(client=client)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
            raise BadRequest(_("Idempotency-Key must be 1 to %(n)s characters.") % {"n": MAX_IDEMPOTENCY_KEY})
        order, _record, fresh = services.request_file(
            client=client, filing=parse_filing(request.POST), idempotency_key=key
        )
        return render(fmt, "service_requests", [payloads.filed_payload(order)], status=201 if fresh else 200)
    orders = selectors.request_list(parse_query(request.GET))
    return render(fmt, "service_requests", [payloads.request_payload(o, request) for o in orders])


@open311_view("GET")
def request_detail(request: HttpRequest, request_id: str, *, fmt: str) -> HttpResponse:
    order = selectors.request_get(int(request_id)) if request_id.isdigit() and len(request_id) < 19 else None
    if order is None:
        raise NotFound(_("service_request_id %(id)s was not found.") % {"id": request_id})
    return render(fmt, "service_requests", [payloads.request_payload(order, request)])


@open311_view("GET")
def token(request: HttpRequest, token: str, *, fmt: str) -> HttpResponse:
    # Every service is `realtime`: a POST answers with the service_request_id itself, so no
    # token is ever issued and none can be looked up.
    raise NotFound(_("token %(token)s was not found; this endpoint answers with ids, not tokens.") % {"token": token})


def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Anything else under /open311/v2/: a spec error, in JSON if that is what was asked."""
    fmt = "json" if path.endswith(".json") else "xml"
    return render_error(fmt, NotFound(_("There is no such GeoReport v2 resource.")))


def root(request: HttpRequest) -> HttpResponse:
    """The endpoint's base URL, named in discovery; it serves the discovery document."""
    return discovery(request, fmt="xml")
