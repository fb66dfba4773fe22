"""Registering a client in the admin: the api_key is shown once and works at once."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages

from open311.models import Open311Client
from tests.factories import UserFactory
from tests.open311.conftest import BASE

pytestmark = pytest.mark.django_db
KEY = re.compile(r"api_key of .+? is (\S+) —")


@pytest.fixture
def admin_http(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _shown_key(response) -> str:
    found = [KEY.search(str(m)) for m in get_messages(response.wsgi_request)]
    keys = [m.group(1) for m in found if m]
    assert len(keys) == 1, [str(m) for m in get_messages(response.wsgi_request)]
    return keys[0]


def test_admin_registers_a_client_and_shows_its_key_once(admin_http, post_request):
    response = admin_http.post(
        "/admin/open311/open311client/add/",
        {"name": "街道自助機", "contact": "ops@example.com", "active": "on", "rate": "30/minute"},
        follow=True,
    )
    assert response.status_code == 200
    key = _shown_key(response)
    client = Open311Client.objects.get(name="街道自助機")
    assert client.rate == "30/minute" and client.key_prefix == key[:8]
    assert key not in client.key_hash
    assert post_request(api_key=key).status_code == 201
    # The change page never shows the key again.
    page = admin_http.get(f"/admin/open311/open311client/{client.pk}/change/").content.decode()
    assert key not in page


def test_admin_refuses_a_malformed_rate(admin_http):
    response = admin_http.post("/admin/open311/open311client/add/", {"name": "Bad", "rate": "lots"})
    assert response.status_code == 200 and not Open311Client.objects.filter(name="Bad").exists()


def test_admin_action_rotates_the_key(admin_http, o311_client, post_request):
    response = admin_http.post(
        "/admin/open311/open311client/",
        {"action": "rotate_key", "_selected_action": [o311_client.pk]},
        follow=True,
    )
    new_key = _shown_key(response)
    assert post_request().status_code == 403  # the old key
    assert post_request(api_key=new_key).status_code == 201


def test_admin_pages_for_attributes_and_requests_open(admin_http, post_request):
    assert post_request().status_code == 201
    for path in ("/admin/open311/serviceattribute/", "/admin/open311/open311request/"):
        assert admin_http.get(path).status_code == 200
    assert BASE
