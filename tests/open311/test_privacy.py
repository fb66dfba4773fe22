"""GET answers are public: they never carry a resident's name, phone, e-mail or exact address,
and locations are rounded to PRECISION decimals (about 100 m)."""

from __future__ import annotations

import json

import pytest

from open311.payloads import PRECISION, mask
from orders import services as order_services
from tests.factories import ResidentProfileFactory
from tests.open311.conftest import BASE

pytestmark = pytest.mark.django_db

NAME, PHONE, EMAIL = "王芳", "13812345678", "wangfang@example.com"
ADDRESS = "幸福路8號3單元502室"
LAT, LNG = 31.230123, 121.470456


@pytest.fixture
def wang(world):
    return ResidentProfileFactory(
        user__username="wangfang88",
        user__first_name="芳",
        user__last_name="王",
        user__display_name=NAME,
        user__email=EMAIL,
        phone=PHONE,
        address=ADDRESS,
        lat=LAT,
        lng=LNG,
        grid=world.north,
    ).user


@pytest.fixture
def wangs_orders(wang, secretary, volunteer, post_request, advance):
    # From Sandan's own app, with her details typed into the description.
    typed, _ = order_services.order_submit(
        resident=wang,
        data=order_services.OrderInput(
            category="errands", description=f"我是{NAME}，住{ADDRESS}，電話 138-1234-5678，郵箱 {EMAIL}。"
        ),
    )
    # Filed by a 311 client, with every personal field the spec allows.
    posted = post_request(
        email="other.person@example.org",
        phone="139 8765 4321",
        first_name="Alice",
        last_name="Zhang",
        address_string="和平里12號",
        description="Please call Alice Zhang on +86 139 8765 4321 or other.person@example.org",
        lat=str(LAT),
        long=str(LNG),
    )
    assert posted.status_code == 201
    # A volunteer's completion note that repeats the phone number (the last timeline note).
    done = advance(typed, "completed")
    order_services.order_reopen(order_id=done.pk, user=wang, reason=f"請再打 {PHONE} 聯繫{NAME}")
    return typed, json.loads(posted.content)[0]["service_request_id"]


SECRETS = [
    NAME,
    PHONE,
    "138-1234-5678",
    EMAIL,
    ADDRESS,
    "wangfang88",
    "Alice",
    "Zhang",
    "139 8765 4321",
    "13987654321",
    "other.person@example.org",
    "和平里12號",
    str(LAT),
    str(LNG),
]


def test_no_get_body_carries_personal_data(http, wangs_orders):
    typed, posted = wangs_orders
    paths = [
        "requests.json",
        "requests.xml",
        f"requests/{typed.pk}.json",
        f"requests/{typed.pk}.xml",
        f"requests/{posted}.json",
        f"requests/{posted}.xml",
        f"requests.json?service_request_id={typed.pk},{posted}",
        "services.json",
        "services.xml",
        "discovery.json",
        "discovery.xml",
    ]
    for path in paths:
        response = http.get(f"{BASE}/{path}")
        assert response.status_code == 200, path
        text = response.content.decode("utf-8")
        for secret in SECRETS:
            assert secret.lower() not in text.lower(), (path, secret)


def test_location_is_rounded_and_the_address_is_the_grid(http, wangs_orders):
    for item in json.loads(http.get(f"{BASE}/requests.json").content):
        assert item["lat"] == round(LAT, PRECISION) and item["long"] == round(LNG, PRECISION)
        assert item["address"] == "North grid, Community, Street"


def test_the_description_keeps_its_meaning(http, wangs_orders):
    typed, _ = wangs_orders
    item = json.loads(http.get(f"{BASE}/requests/{typed.pk}.json").content)[0]
    assert item["description"] == "我是***，住***，電話 ***，郵箱 ***。"
    assert item["status_notes"] == "請再打 *** 聯繫***"


def test_masking_spares_ordinary_words_and_dates(resident, submit):
    order = submit(description="x")
    order.resident.first_name = "Al"
    assert (
        mask("Also Al, come on 2026-11-26 at 10:30, flat 12", order) == "Also ***, come on 2026-11-26 at 10:30, flat 12"
    )
