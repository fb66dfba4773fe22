"""POST requests: a filed request becomes a submitted order, routed like any other, for the
resident the client names; the client is on the timeline. Every refusal is a spec error."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from notifications.models import Event
from open311 import services
from open311.models import Open311Request, ResidentIdentity
from orders.models import Order, OrderEvent
from tests.factories import BASE_LAT, BASE_LNG
from tests.open311.conftest import BASE, body

pytestmark = pytest.mark.django_db
User = get_user_model()


def _errors(response) -> list[tuple[int, str]]:
    parsed = body(response)
    if isinstance(parsed, list):
        return [(e["code"], e["description"]) for e in parsed]
    return [(int(e.findtext("code")), e.findtext("description")) for e in parsed.findall("error")]


def _filed_id(response) -> int:
    assert response.status_code == 201, response.content
    parsed = body(response)
    if isinstance(parsed, list):
        return parsed[0]["service_request_id"]
    return int(parsed.findtext("request/service_request_id"))


def test_filed_request_is_a_submitted_order_routed_to_the_grid_branch(post_request, world, secretary):
    order = Order.objects.get(pk=_filed_id(post_request("json")))
    assert order.status == "submitted"
    assert order.branch == world.north_branch and order.grid == world.north
    assert order.category.code == "errands"
    assert order.description == "請幫我買米和油。"
    assert order.submitted_by is None
    # The secretary's desk hears of it like any other order.
    assert Event.objects.filter(recipient=secretary, kind="desk.new_order").exists()


def test_the_client_is_recorded_on_the_timeline(post_request, o311_client):
    order_id = _filed_id(post_request("xml"))
    submit = OrderEvent.objects.get(order_id=order_id, action="submit")
    assert submit.data == {"source": "Open311: 市民熱線 App"}
    assert "市民熱線 App" in submit.note
    record = Open311Request.objects.get(order_id=order_id)
    assert record.client == o311_client and record.resident_created


def test_south_point_goes_to_the_south_branch(post_request, world):
    order = Order.objects.get(pk=_filed_id(post_request(lat=str(BASE_LAT - 0.02), long=str(BASE_LNG))))
    assert order.branch == world.south_branch


def test_new_resident_is_created_by_email_without_a_usable_password(post_request):
    order = Order.objects.get(pk=_filed_id(post_request(phone="139 1234 5678")))
    user = order.resident
    assert user.email == "wang.fang@example.com"
    assert not user.has_usable_password()
    assert user.resident.phone == "13912345678"
    assert user.display_name == "芳 王"
    assert order.contact_phone == "13912345678"
    # The answer names the account, so the client can use account_id next time.
    second = post_request("json", email=None, phone=None, account_id=str(user.pk))
    assert Order.objects.get(pk=_filed_id(second)).resident == user


def test_same_email_again_finds_the_same_resident(post_request):
    first = Order.objects.get(pk=_filed_id(post_request(email="Li.Lei@Example.com")))
    second = Order.objects.get(pk=_filed_id(post_request(email="li.lei@example.com", first_name="Someone")))
    assert first.resident == second.resident
    assert User.objects.filter(email="li.lei@example.com").count() == 1


def test_phone_finds_an_existing_sandan_resident(post_request, resident):
    phone = resident.resident.phone
    order = Order.objects.get(pk=_filed_id(post_request(email=None, phone=phone)))
    assert order.resident == resident
    assert ResidentIdentity.objects.get(kind="phone", value=phone).user == resident


def test_account_id_may_be_a_username(post_request, resident):
    order = Order.objects.get(pk=_filed_id(post_request(email=None, account_id="resident")))
    assert order.resident == resident


def test_address_string_alone_uses_the_residents_home(post_request, resident):
    order = Order.objects.get(
        pk=_filed_id(post_request(email=None, account_id="resident", lat=None, long=None, address_string="3號樓"))
    )
    assert (order.lat, order.lng) == (resident.resident.lat, resident.resident.lng)
    assert order.address == "3號樓"


def test_attribute_answers_are_checked_and_shown_to_the_branch(post_request):
    response = post_request(service_code="repair", **{"attribute[repair-kind]": "plumbing"})
    order = Order.objects.get(pk=_filed_id(response))
    assert "需要維修甚麼？ 水管" in order.description
    assert Open311Request.objects.get(order=order).attributes == {"repair-kind": "plumbing"}

    bad = post_request(service_code="repair", **{"attribute[repair-kind]": "rocket"})
    assert bad.status_code == 400 and "rocket" in _errors(bad)[0][1]
    unknown = post_request(service_code="repair", **{"attribute[colour]": "red"})
    assert unknown.status_code == 400 and "colour" in _errors(unknown)[0][1]


def test_chinese_text_round_trips_in_utf8(http, post_request):
    order_id = _filed_id(post_request("xml", description="樓道燈壞了，請派人修理。"))
    raw = http.get(f"{BASE}/requests/{order_id}.xml").content
    assert "樓道燈壞了，請派人修理。".encode() in raw
    as_json = json.loads(http.get(f"{BASE}/requests/{order_id}.json").content)
    assert as_json[0]["description"] == "樓道燈壞了，請派人修理。"


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "rocket-science"}, 404, "rocket-science"),
        ({"lat": None, "long": None}, 400, "location"),
        ({"lat": "north", "long": "121.47"}, 400, "lat"),
        ({"lat": "91", "long": "121.47"}, 400, "lat"),
        ({"lat": "31.23", "long": "-181"}, 400, "long"),
        ({"lat": "nan", "long": "121.47"}, 400, "lat"),
        ({"long": None}, 400, "together"),
        ({"email": None, "first_name": None}, 400, "email, phone or account_id"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"email": None, "account_id": "nobody-here"}, 400, "account_id"),
        ({"api_key": None}, 403, "api_key"),
        ({"api_key": "wrong-key"}, 403, "api_key"),
        ({"jurisdiction_id": "elsewhere.gov"}, 404, "elsewhere.gov"),
        ({"lat": None, "long": None, "address_id": "545483"}, 400, "lat and long"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({"description": "x" * 2001}, 400, "description"),
    ],
)
def test_refusals_use_the_spec_error_format(post_request, fmt, fields, status, words):
    before = Order.objects.count()
    response = post_request(fmt, **fields)
    assert response.status_code == status, response.content
    errors = _errors(response)
    assert errors and all(code == status for code, _ in errors)
    assert any(words in description for _, description in errors), errors
    assert Order.objects.count() == before


def test_several_problems_are_listed_together(post_request):
    errors = _errors(post_request(service_code="", lat=None, long=None, email=None))
    assert len(errors) == 3


def test_a_point_no_branch_serves_is_refused_and_leaves_no_resident(post_request):
    from volunteers.models import Branch

    Branch.objects.all().delete()
    response = post_request(email="nobody.served@example.com")
    assert response.status_code == 400
    assert not User.objects.filter(email="nobody.served@example.com").exists()


def test_a_disabled_client_is_refused(post_request, o311_client):
    o311_client.active = False
    o311_client.save()
    assert post_request().status_code == 403


def test_matching_jurisdiction_is_accepted(post_request, settings):
    assert post_request(jurisdiction_id=settings.OPEN311_JURISDICTION).status_code == 201


def test_rate_limit_per_key_answers_429(http, post_request, o311_client, world):
    o311_client.rate = "2/minute"
    o311_client.save()
    _other, other_key = services.client_register(name="Kiosk", rate="2/minute")
    assert [post_request(email=f"r{i}@example.com").status_code for i in range(3)] == [201, 201, 429]
    refused = post_request("xml", email="r9@example.com")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert _errors(refused)[0][0] == 429
    # Another client's key has its own budget.
    assert post_request(api_key=other_key, email="k@example.com").status_code == 201


def test_rotated_key_replaces_the_old_one(post_request, o311_client):
    new_key = services.client_rotate_key(client=o311_client)
    assert post_request().status_code == 403
    assert post_request(api_key=new_key).status_code == 201


def test_key_is_stored_only_as_a_hash(o311_client):
    assert o311_client.api_key not in (o311_client.key_hash, o311_client.key_prefix * 2)
    assert o311_client.key_hash == services.hash_key(o311_client.api_key)


def test_an_operator_account_is_never_matched(post_request):
    from tests.factories import UserFactory

    admin = UserFactory(username="root", email="root@example.com", is_staff=True)
    by_email = Order.objects.get(pk=_filed_id(post_request(email="root@example.com")))
    assert by_email.resident != admin
    refused = post_request(email=None, account_id="root")
    assert refused.status_code == 400 and "account_id" in _errors(refused)[0][1]


def test_an_oversized_body_is_a_spec_error(post_request, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_request("xml", description="長" * 900)
    assert response.status_code == 400
    assert _errors(response)[0][0] == 400


def test_a_retry_with_the_same_idempotency_key_returns_the_first_request(http, post_request, o311_client):
    def post(key: str, **fields):
        data = {
            "api_key": o311_client.api_key,
            "service_code": "errands",
            "lat": str(BASE_LAT),
            "long": str(BASE_LNG),
            "email": "retry@example.com",
            "description": "請幫我取藥。",
            **fields,
        }
        return http.post(f"{BASE}/requests.json", data, headers={"Idempotency-Key": key})

    first = post("kiosk-7-000123")
    again = post("kiosk-7-000123")
    assert first.status_code == 201 and again.status_code == 200
    assert body(first)[0]["service_request_id"] == body(again)[0]["service_request_id"]
    assert Order.objects.filter(resident__email="retry@example.com").count() == 1
    # The same key for a different request is refused; a new key files a new one.
    assert post("kiosk-7-000123", description="另一件事").status_code == 400
    assert post("kiosk-7-000124").status_code == 201
    assert post("x" * 101).status_code == 400
