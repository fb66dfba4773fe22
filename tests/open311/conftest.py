"""Open311 fixtures: a registered client with its key, and helpers that speak the protocol
(form-encoded POSTs, a parsed body in either format)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from open311 import services
from tests.factories import BASE_LAT, BASE_LNG
from tests.open311 import spec

BASE = "/open311/v2"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The named people of tests/conftest.py get hashed passwords; PBKDF2 would dominate here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def o311_client(db):
    client, key = services.client_register(name="市民熱線 App", rate="100/minute")
    client.api_key = key  # only the test keeps the plain key
    return client


@pytest.fixture
def http() -> Client:
    return Client()


def body(response) -> Any:
    """The parsed body: JSON as data, XML as an Element."""
    if response["Content-Type"].startswith("application/json"):
        return json.loads(response.content.decode("utf-8"))
    return spec.parse_xml(response.content)


@pytest.fixture
def post_request(http, o311_client, world):
    """POST requests.<fmt> with sensible defaults: a point in the north grid, a new resident."""

    def post(fmt: str = "json", **fields):
        data = {
            "api_key": o311_client.api_key,
            "service_code": "errands",
            "lat": str(BASE_LAT + 0.0004),
            "long": str(BASE_LNG + 0.0004),
            "email": "wang.fang@example.com",
            "first_name": "芳",
            "last_name": "王",
            "description": "請幫我買米和油。",
            **fields,
        }
        data = {k: v for k, v in data.items() if v is not None}
        return http.post(f"{BASE}/requests.{fmt}", data)

    return post
