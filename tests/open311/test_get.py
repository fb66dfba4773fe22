"""GET requests and GET requests/{id}: what a 311 dashboard sees of Sandan's orders, how the
lifecycle maps onto open/closed, and how the spec's filters and limits behave."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from open311.params import MAX_RESULTS
from orders import services as order_services
from orders.attachments import order_attach
from orders.models import Category, Order
from tests.open311.conftest import BASE

pytestmark = pytest.mark.django_db


def _get(http, path: str, **params):
    response = http.get(f"{BASE}/{path}", params)
    assert response["Content-Type"].startswith("application/json")
    return response.status_code, json.loads(response.content)


def _ids(http, **params) -> list[int]:
    status, items = _get(http, "requests.json", **params)
    assert status == 200, items
    return [i["service_request_id"] for i in items]


@pytest.fixture
def roomy_volunteer(volunteer):
    volunteer.volunteer.capacity = 10
    volunteer.volunteer.save()
    return volunteer


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("submitted", "open"),
        ("accepted", "open"),
        ("dispatched", "open"),
        ("claimed", "open"),
        ("in_progress", "open"),
        # The volunteer has done it; only the resident's confirmation is outstanding.
        ("completed", "closed"),
        ("closed", "closed"),
        ("rejected", "closed"),
        ("cancelled", "closed"),
    ],
)
def test_lifecycle_maps_onto_open_and_closed(http, submit, advance, roomy_volunteer, state, expected):
    order = advance(submit(), state)
    status, items = _get(http, f"requests/{order.pk}.json")
    assert status == 200
    assert items[0]["status"] == expected
    assert items[0]["service_notice"]  # says where it has got in words
    assert _ids(http, status=expected) == [order.pk]
    assert _ids(http, status="closed" if expected == "open" else "open") == []


def test_closed_request_is_updated_when_it_closed(http, submit, advance, roomy_volunteer):
    order = advance(submit(), "closed")
    _, items = _get(http, f"requests/{order.pk}.json")
    assert items[0]["updated_datetime"] == timezone.localtime(order.closed_at).isoformat(timespec="seconds")


def test_status_notes_are_the_last_timeline_note(http, submit, secretary):
    order = submit()
    _, items = _get(http, f"requests/{order.pk}.json")
    assert items[0]["status_notes"] is None
    order_services.order_reject(order_id=order.pk, user=secretary, reason="不在本支部服務範圍")
    _, items = _get(http, f"requests/{order.pk}.json")
    assert items[0]["status_notes"] == "不在本支部服務範圍"


def test_agency_is_the_branch_holding_the_order(http, submit, secretary, world):
    order = submit()
    assert _get(http, f"requests/{order.pk}.json")[1][0]["agency_responsible"] == "North branch"
    order_services.order_transfer(order_id=order.pk, user=secretary, reason="南片負責", branch_id=world.south_branch.pk)
    assert _get(http, f"requests/{order.pk}.json")[1][0]["agency_responsible"] == "South branch"


def test_expected_datetime_is_the_window_end_or_the_urgency_estimate(http, submit):
    end = timezone.now() + timedelta(days=2)
    windowed = submit(window_start=timezone.now(), window_end=end)
    urgent = submit(urgency="urgent")
    by_id = {i["service_request_id"]: i for i in _get(http, "requests.json")[1]}
    assert by_id[windowed.pk]["expected_datetime"] == timezone.localtime(end).isoformat(timespec="seconds")
    expected = timezone.localtime(urgent.created_at + timedelta(hours=4)).isoformat(timespec="seconds")
    assert by_id[urgent.pk]["expected_datetime"] == expected


def test_media_url_is_the_first_photo_behind_the_authorised_view(http, submit, resident, api):
    order = submit()
    assert _get(http, f"requests/{order.pk}.json")[1][0]["media_url"] is None
    raw = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(raw, format="PNG")
    photo = order_attach(
        order_id=order.pk, user=resident, kind="photo", upload=SimpleUploadedFile("p.png", raw.getvalue())
    )
    url = _get(http, f"requests/{order.pk}.json")[1][0]["media_url"]
    assert url == f"http://testserver/api/v1/attachments/{photo.token}"
    path = url.removeprefix("http://testserver")
    assert api().get(path).status_code in (401, 403)  # a 311 client without a Sandan session
    assert api(resident).get(path).status_code == 200


def test_service_request_id_list_overrides_the_other_filters(http, submit):
    first, second, third = submit(), submit(), submit()
    assert sorted(_ids(http, service_request_id=f"{first.pk},{third.pk}", status="closed")) == [first.pk, third.pk]
    assert _ids(http, service_request_id="abc,99999999") == []
    assert second.pk in _ids(http)


def test_service_code_filter_takes_a_comma_list(http, submit):
    errand = submit()
    repair = submit(category="repair")
    tutoring = submit(category="tutoring")
    assert sorted(_ids(http, service_code="errands,repair")) == sorted([errand.pk, repair.pk])
    assert _ids(http, service_code="tutoring") == [tutoring.pk]


def test_default_window_is_the_last_90_days(http, submit):
    recent = submit()
    old = submit()
    long_ago = timezone.now() - timedelta(days=100)
    Order.objects.filter(pk=old.pk).update(created_at=long_ago)
    assert _ids(http) == [recent.pk]
    around = {
        "start_date": (long_ago - timedelta(days=1)).isoformat(),
        "end_date": (long_ago + timedelta(days=1)).isoformat(),
    }
    assert _ids(http, **around) == [old.pk]
    # A start alone spans 90 days from it.
    assert _ids(http, start_date=(long_ago - timedelta(days=1)).date().isoformat()) == [old.pk]


def test_dates_accept_w3_with_z_and_offsets(http, submit):
    order = submit()
    day = timezone.localtime(order.created_at).date()
    assert _ids(http, start_date=f"{day}T00:00:00+08:00", end_date=f"{day}T23:59:59+08:00") == [order.pk]
    # An unescaped '+' arrives as a space in a query string; it is still understood.
    response = http.get(f"{BASE}/requests.json?start_date={day}T00:00:00+08:00&end_date={day}T23:59:59+08:00")
    assert [i["service_request_id"] for i in json.loads(response.content)] == [order.pk]
    before = (order.created_at - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _ids(http, start_date=before, end_date=before) == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-13-45"}, "end_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"}, "before"),
        ({"status": "pending"}, "pending"),
    ],
)
def test_bad_filters_are_400_errors(http, params, words):
    status, items = _get(http, "requests.json", **params)
    assert status == 400
    assert items[0]["code"] == 400 and words in items[0]["description"]


def test_at_most_1000_requests_newest_first(http, resident, world):
    errands = Category.objects.get(code="errands")
    Order.objects.bulk_create(
        Order(resident=resident, category=errands, description="x", lat=31.23, lng=121.47, branch=world.north_branch)
        for _ in range(MAX_RESULTS + 5)
    )
    ids = _ids(http)
    assert len(ids) == MAX_RESULTS
    assert ids == sorted(ids, reverse=True)


def test_unknown_or_malformed_id_is_404(http):
    for path in ("requests/424242.json", "requests/not-a-number.json", "requests/99999999999999999999.json"):
        status, items = _get(http, path)
        assert status == 404 and items[0]["code"] == 404


def test_jurisdiction_on_reads(http, submit, settings):
    submit()
    assert _get(http, "requests.json", jurisdiction_id=settings.OPEN311_JURISDICTION)[0] == 200
    assert _get(http, "requests.json", jurisdiction_id="")[0] == 200  # empty = not given
    for path in ("requests.json", "services.json", "services/errands.json", "discovery.json"):
        status, items = _get(http, path, jurisdiction_id="other.gov")
        assert status == 404 and "other.gov" in items[0]["description"]
    settings.OPEN311_JURISDICTION = "shenzhen.gov.cn"
    assert _get(http, "services.json", jurisdiction_id="shenzhen.gov.cn")[0] == 200


def test_list_costs_the_same_queries_for_1_or_20_requests(http, submit, secretary):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert http.get(f"{BASE}/requests.json").status_code == 200
        return len(queries)

    submit()
    one = count()
    for _ in range(19):
        order = submit()
        order_services.order_reject(order_id=order.pk, user=secretary, reason="滿額")
    assert count() == one
