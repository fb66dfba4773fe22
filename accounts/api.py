"""Sign-in for apps and browsers: allauth headless' login, with its lockout said the way
every other limit of the API says it (429 and Retry-After) instead of a 400."""

from __future__ import annotations

import math
from typing import Any

from allauth.account import app_settings as account_settings
from allauth.core.internal.ratelimit import parse_rates
from allauth.headless.account.views import LoginView as HeadlessLoginView
from allauth.headless.base.response import RateLimitResponse
from django.http import HttpRequest, HttpResponseBase

LOCKED_OUT = "too_many_login_attempts"


def _seconds(action: str, fallback: int = 60) -> int:
    """The longest window of an allauth rate: by then the lockout has certainly passed."""
    rates = parse_rates(account_settings.RATE_LIMITS.get(action))
    return math.ceil(max((r.duration for r in rates), default=fallback))


class LoginView(HeadlessLoginView):
    def handle(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().handle(request, *args, **kwargs)
        if response.status_code == 429 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(_seconds("login"))  # allauth's per-IP limit of login attempts
        return response

    def handle_invalid_input(self, input: Any) -> HttpResponseBase:
        codes = {error.code for errors in input.errors.as_data().values() for error in errors}
        if LOCKED_OUT in codes:
            locked = RateLimitResponse(self.request)
            locked["Retry-After"] = str(_seconds("login_failed"))
            return locked
        return super().handle_invalid_input(input)
