"""ORDER_SUBMIT_RATE: how many orders a resident may post, decided in the database.

The same limit for the app (REST), the pages and Open311, exact under 60 concurrent posts,
counting only orders that were created.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Category, Order
from tests.factories import BASE_LAT, BASE_LNG, ResidentProfileFactory

GOOD = {"category": "errands", "description": "Please fetch my medicine."}


@pytest.fixture
def three_per_hour(settings):
    settings.SANDAN = {**settings.SANDAN, "ORDER_SUBMIT_RATE": "3/hour"}


@pytest.mark.django_db
def test_refused_posts_do_not_use_up_the_allowance(three_per_hour, api, resident):
    client = api(resident)
    for _ in range(5):
        assert client.post("/api/v1/orders", {**GOOD, "category": "teleportation"}, format="json").status_code == 400
    codes = [client.post("/api/v1/orders", {**GOOD, "description": f"R{i}"}, format="json") for i in range(4)]
    assert [c.status_code for c in codes] == [201, 201, 201, 429]


@pytest.mark.django_db
def test_the_window_slides_and_retry_after_says_when_a_slot_frees(three_per_hour, api, resident):
    client = api(resident)
    ids = [client.post("/api/v1/orders", {**GOOD, "description": f"R{i}"}, format="json").data["id"] for i in range(3)]
    # The first order was posted 50 minutes ago: its slot frees in 10 minutes.
    Order.objects.filter(pk=ids[0]).update(created_at=timezone.now() - timedelta(minutes=50))
    refused = client.post("/api/v1/orders", GOOD, format="json")
    assert refused.status_code == 429 and refused.data["code"] == "throttled"
    assert 9 * 60 <= int(refused["Retry-After"]) <= 10 * 60
    Order.objects.filter(pk=ids[0]).update(created_at=timezone.now() - timedelta(minutes=61))
    assert client.post("/api/v1/orders", GOOD, format="json").status_code == 201


@pytest.mark.django_db
def test_a_desk_entering_walk_ins_is_not_limited_and_does_not_count(three_per_hour, api, staff, resident):
    desk = api(staff)
    for i in range(4):
        body = {**GOOD, "description": f"Walk-in {i}", "resident": resident.pk}
        assert desk.post("/api/v1/orders", body, format="json").status_code == 201
    # The resident's own allowance is untouched by what the desk entered for them.
    own = api(resident)
    assert [own.post("/api/v1/orders", GOOD, format="json").status_code for _ in range(4)] == [201, 201, 201, 429]


@pytest.mark.django_db
def test_the_page_form_has_the_same_limit_and_keeps_what_was_typed(three_per_hour, settings, resident):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    browser = Client()
    browser.force_login(resident)
    codes = []
    for i in range(4):
        page = browser.post(
            "/orders/new",
            {"category": "errands", "description": f"Bread and rice, please ({i})", "urgency": "normal"},
        )
        codes.append(page.status_code)
    assert codes == [302, 302, 302, 429]
    assert Order.objects.filter(resident=resident).count() == 3
    text = page.content.decode()
    assert "Bread and rice, please (3)" in text  # what they typed is still in the form
    assert "try again in 60 minutes" in text or "60 分钟" in text or "60分钟" in text, text[:3000]
    assert int(page["Retry-After"]) > 0


@pytest.mark.django_db
def test_open311_filings_count_for_the_resident_they_name(three_per_hour, settings, world, resident):
    from open311 import services as open311_services

    _client, key = open311_services.client_register(name="311 app", rate="100/minute")
    resident.email = "resident@example.com"
    resident.save()
    http = Client()
    codes = []
    for i in range(4):
        response = http.post(
            "/open311/v2/requests.json",
            {
                "api_key": key,
                "service_code": "errands",
                "lat": str(BASE_LAT),
                "long": str(BASE_LNG),
                "email": "resident@example.com",
                "description": f"Request {i}",
            },
        )
        codes.append(response.status_code)
    assert codes == [201, 201, 201, 429]
    assert int(response["Retry-After"]) > 0


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixty_concurrent_posts_create_exactly_the_allowed_number(world, settings):
    """60 posts from one resident released at one instant, each on its own connection: 20 are
    created (the default ORDER_SUBMIT_RATE), 40 get 429, and the next post is refused too."""
    settings.SANDAN = {**settings.SANDAN, "ORDER_SUBMIT_RATE": "20/hour"}
    Category.objects.get_or_create(code="errands", defaults={"name": "Errands"})
    resident = ResidentProfileFactory(user__username="flooder", grid=world.north).user
    neighbour = ResidentProfileFactory(user__username="neighbour", grid=world.north).user
    crowd = 60
    barrier = threading.Barrier(crowd)

    def post(i: int) -> int:
        client = APIClient()
        client.force_authenticate(resident)
        try:
            barrier.wait(timeout=60)
            return client.post("/api/v1/orders", {**GOOD, "description": f"Flood {i}"}, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(crowd) as pool:
        codes = sorted(pool.map(post, range(crowd)))
    assert codes == [201] * 20 + [429] * 40
    assert Order.objects.filter(resident=resident).count() == 20
    late = APIClient()
    late.force_authenticate(resident)
    assert late.post("/api/v1/orders", GOOD, format="json").status_code == 429
    # The lock is the resident's own: a neighbour posts as usual.
    other = APIClient()
    other.force_authenticate(neighbour)
    assert other.post("/api/v1/orders", GOOD, format="json").status_code == 201


@pytest.mark.django_db
def test_an_unknown_rate_setting_fails_loudly(settings, resident):
    from django.core.exceptions import ImproperlyConfigured

    from orders.limits import order_submit_check_rate

    settings.SANDAN = {**settings.SANDAN, "ORDER_SUBMIT_RATE": "20/fortnight"}
    with pytest.raises(ImproperlyConfigured):
        order_submit_check_rate(resident=resident)
