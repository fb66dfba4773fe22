"""Request types for views that only run for signed-in users.

DRF's IsAuthenticated (and Django's login_required) guarantee `request.user` is a `User`,
but the stubs cannot know; annotating such a view's request with these says so once."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


class AuthedHttpRequest(HttpRequest):
    user: User  # type: ignore[assignment]


class AuthedRequest(Request):
    user: User  # type: ignore[assignment]
