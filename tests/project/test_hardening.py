"""Input that used to end in a 500 (each reproduced with curl against PostgreSQL): now a 4xx
in the shape of the part of the site it was sent to. Run on PostgreSQL in CI, where NUL
bytes and numbers past 2**63 reach the database."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from orders.models import Order
from tests.factories import BASE_LAT, BASE_LNG

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999999"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- limit and offset ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/notifications", "limit"),
        ("/api/v1/notifications", "offset"),
        ("/api/v1/orders", "offset"),
        ("/api/v1/orders", "limit"),
        ("/api/v1/me/timebank", "offset"),
        ("/api/v1/me/timebank", "limit"),
        ("/api/v1/timebank/leaderboard", "limit"),
    ],
)
def test_a_limit_or_offset_past_any_integer_is_refused_by_name(path, param, api, resident):
    response = api(resident).get(path, {param: HUGE})
    if param == "limit":
        # A limit above the maximum is the maximum (as before); it never reaches the database as is.
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 400, response.content
        assert param in response.json()


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "²", "0x10"])
def test_an_offset_that_is_not_a_whole_number_is_refused(value, api, resident):
    response = api(resident).get("/api/v1/orders", {"offset": value})
    assert response.status_code == 400 and "offset" in response.json()


def test_paging_still_pages(api, resident, submit):
    for i in range(3):
        submit(description=f"Order {i}")
    page = api(resident).get("/api/v1/orders", {"limit": 2, "offset": 1}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["previous"] is not None


@pytest.mark.parametrize("branch", [HUGE, "²", "-3"])
def test_a_leaderboard_branch_that_is_no_id_is_refused(branch, api, resident):
    response = api(resident).get("/api/v1/timebank/leaderboard", {"branch": branch})
    assert response.status_code == 400 and "branch" in response.json()


# --- NUL bytes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "param"),
    [
        ("/api/v1/stats", "scope=category:%00", "scope"),
        ("/api/v1/stats", "scope=branch:1&category=%00", "category"),
        ("/api/v1/orders", "role=%00", "role"),
        ("/api/v1/orders/1/candidates", "limit=%00", "limit"),
    ],
)
def test_a_nul_in_a_query_parameter_is_a_400_naming_it(path, query, param, api, staff):
    response = api(staff).get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and param in response.json()


@pytest.mark.parametrize(
    ("where", "data"),
    [
        ("description", {"description": "a\x00b"}),
        ("address_string", {"address_string": "1 Road\x00", "lat": None, "long": None}),
        ("first_name", {"first_name": "\x00"}),
    ],
)
def test_open311_refuses_a_nul_in_a_posted_field_in_its_own_format(where, data, world):
    from open311 import services as open311_services

    _client, key = open311_services.client_register(name="311 app", rate="100/minute")
    body = {
        "api_key": key,
        "service_code": "errands",
        "lat": str(BASE_LAT),
        "long": str(BASE_LNG),
        "email": "a@example.com",
        **data,
    }
    response = Client().post("/open311/v2/requests.json", {k: v for k, v in body.items() if v is not None})
    assert response.status_code == 400, response.content
    assert response.json()[0]["code"] == 400
    assert not Order.objects.exists()


@pytest.mark.parametrize("query", ["service_code=%00", "status=open%00", "service_request_id=1%00"])
def test_open311_refuses_a_nul_in_a_query(query, world):
    for fmt in ("json", "xml"):
        response = Client().get(f"/open311/v2/requests.{fmt}?{query}")
        assert response.status_code == 400, response.content
        assert response["Content-Type"].startswith("application/json" if fmt == "json" else "text/xml")


def test_a_nul_in_a_json_body_is_refused_wherever_it_hides(api, resident):
    for body, field in [
        ({"category": "errands", "description": "help\x00me"}, "description"),
        ({"category": "errands", "description": "help", "extra": {"deep": ["\x00"]}}, "extra"),
        ({"ids": [1], "\x00": 1}, "non_field_errors"),
    ]:
        response = api(resident).post("/api/v1/orders", json.dumps(body), content_type="application/json")
        assert response.status_code == 400 and field in response.json(), (body, response.content)
    nested = "[" * 50_000 + '"\\u0000"' + "]" * 50_000
    response = api(resident).post("/api/v1/orders", nested, content_type="application/json")
    assert response.status_code == 400, response.content
    # An escaped backslash before u0000 is text, not a NUL.
    text = api(resident).post(
        "/api/v1/orders",
        '{"category": "errands", "description": "C:\\\\u0000 is a path"}',
        content_type="application/json",
    )
    assert text.status_code == 201, text.content


def test_a_nul_in_a_multipart_field_is_refused(api, resident, submit):
    order = submit()
    response = api(resident).post(f"/api/v1/orders/{order.pk}/attachments", {"kind": "photo\x00"}, format="multipart")
    assert response.status_code == 400 and "kind" in response.json()


def test_a_nul_in_a_page_form_or_query_is_refused(resident):
    browser = Client()
    browser.force_login(resident)
    assert browser.get("/desk/?branch=%00").status_code == 400
    response = browser.post("/orders/new", {"category": "errands", "description": "Bread\x00", "urgency": "normal"})
    assert response.status_code == 400
    assert not Order.objects.exists()


def test_a_nul_in_a_login_is_refused(world):
    response = Client().post(
        "/_allauth/app/v1/auth/login",
        json.dumps({"username": "resident\x00", "password": "x"}),
        content_type="application/json",
    )
    assert response.status_code == 400 and "username" in response.json()


# --- Open311 fields the database could not hold --------------------------------------------------


def test_open311_email_over_254_characters_is_a_400(world):
    from open311 import services as open311_services

    _client, key = open311_services.client_register(name="311 app", rate="100/minute")
    email = "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".example.com"
    assert len(email) > 254
    response = Client().post(
        "/open311/v2/requests.json",
        {"api_key": key, "service_code": "errands", "lat": str(BASE_LAT), "long": str(BASE_LNG), "email": email},
    )
    assert response.status_code == 400, response.content
    assert "254" in response.json()[0]["description"]


@pytest.mark.parametrize(
    "query",
    [
        "start_date=9999-12-31T23:59:59-12:00",
        "end_date=0001-01-01T00:00:00%2B14:00",
        "start_date=9999-12-31",
        "end_date=0001-01-01",
    ],
)
def test_open311_dates_at_the_ends_of_the_calendar_are_a_400(query, world):
    response = Client().get(f"/open311/v2/requests.json?{query}")
    assert response.status_code == 400, response.content


# --- the contract's errors ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/orders/abc", "/api/v1/me/", "/api/v1/"])
def test_an_unknown_api_path_is_the_json_404(path, api, resident):
    for client in (api(resident), api()):
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response.status_code == 404, (path, method)
            assert response.json()["code"] == "not_found"


def test_a_body_over_the_limit_is_a_413(api, resident):
    big = json.dumps({"category": "errands", "description": "x" * (20 * 1024 * 1024)})
    response = api(resident).post("/api/v1/orders", big, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


# --- input that was accepted and then silently ignored -------------------------------------------


@pytest.mark.parametrize("point", [(0.0, 0.0), (48.8566, 2.3522), (BASE_LAT + 0.2, BASE_LNG)])
def test_an_order_outside_every_served_area_is_refused(point, api, resident):
    lat, lng = point
    body = {"category": "errands", "description": "Help", "lat": lat, "lng": lng}
    response = api(resident).post("/api/v1/orders", body, format="json")
    assert response.status_code == 400 and "lat" in response.json(), response.content
    assert not Order.objects.exists()


def test_an_order_near_a_grid_is_still_taken(api, resident):
    body = {"category": "errands", "description": "Help", "lat": BASE_LAT + 0.01, "lng": BASE_LNG}
    assert api(resident).post("/api/v1/orders", body, format="json").status_code == 201


def test_a_transfer_naming_a_branch_and_an_area_is_refused(api, secretary, world, submit):
    order = submit()
    body = {"branch": world.south_branch.pk, "area": world.north.pk, "reason": "Theirs"}
    response = api(secretary).post(f"/api/v1/orders/{order.pk}/transfer", body, format="json")
    assert response.status_code == 400 and "area" in response.json()
    order.refresh_from_db()
    assert order.branch_id == world.north_branch.pk


def test_a_pool_dispatch_naming_volunteers_and_top_is_refused(api, secretary, volunteer, submit, advance):
    order = advance(submit(), "accepted")
    body = {"mode": "pool", "volunteers": [volunteer.volunteer.pk], "top": 3}
    response = api(secretary).post(f"/api/v1/orders/{order.pk}/dispatch", body, format="json")
    assert response.status_code == 400 and "top" in response.json()
    order.refresh_from_db()
    assert order.status == "accepted"


# --- the OpenAPI schema says what the API answers --------------------------------------------------


@pytest.fixture
def openapi(client):
    return client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def _resolve(openapi, schema):
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/notifications"])
def test_paginated_lists_are_declared_as_pages(openapi, path):
    body = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = _resolve(openapi, body)
    assert page["type"] == "object"
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    assert page["properties"]["results"]["type"] == "array"


def test_every_operation_declares_its_errors_in_the_error_shape(openapi):
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "403", "404"):
                declared = operation["responses"].get(status)
                assert declared, (method, path, status)
                shape = _resolve(openapi, declared["content"]["application/json"]["schema"])
                assert "code" in shape["properties"] and "detail" in shape["properties"]
            if method != "get":
                assert "409" in operation["responses"] and "413" in operation["responses"], (method, path)
    assert "429" in openapi["paths"]["/api/v1/orders"]["post"]["responses"]


# --- ids past any database integer ------------------------------------------------------------

BIG_ID = 2**63  # one past PostgreSQL's bigint


CONFIRM = "/api/v1/orders/batch/confirm"
ADJUST = "/api/v1/timebank/adjust"


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "field"),
    [
        ("secretary", "post", "/api/v1/orders/batch/propose", {"orders": [BIG_ID]}, "orders"),
        ("secretary", "post", CONFIRM, {"assignments": [{"order": BIG_ID, "volunteer": 1}]}, "assignments"),
        ("secretary", "post", CONFIRM, {"assignments": [{"order": 1, "volunteer": BIG_ID}]}, "assignments"),
        ("staff", "post", ADJUST, {"user": BIG_ID, "order": 1, "amount": "1.00", "reason": "x"}, "user"),
        ("staff", "post", ADJUST, {"user": 1, "order": BIG_ID, "amount": "1.00", "reason": "x"}, "order"),
        ("staff", "post", "/api/v1/stats/samples", {"branch": BIG_ID}, "branch"),
        ("staff", "post", "/api/v1/stats/samples", {"area": BIG_ID}, "area"),
        ("resident", "post", "/api/v1/notifications/read", {"ids": [BIG_ID]}, "ids"),
        ("volunteer", "post", "/api/v1/timebank/redeem", {"item": BIG_ID}, "item"),
        ("staff", "get", "/api/v1/desk/map", {"branch": BIG_ID}, "branch"),
    ],
)
def test_an_id_past_any_database_integer_is_a_400_naming_it(who, method, path, body, field, api, request):
    client = api(request.getfixturevalue(who))
    response = client.get(path, body) if method == "get" else client.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/orders/{}"),
        ("get", "/api/v1/orders/{}/candidates"),
        ("post", "/api/v1/orders/{}/follow"),
        ("post", "/api/v1/orders/{}/claim"),
        ("get", "/orders/{}/"),
    ],
)
def test_an_id_past_any_database_integer_in_a_path_is_not_found(method, path, api, secretary):
    response = getattr(api(secretary), method)(path.format(BIG_ID))
    assert response.status_code == 404, response.content
