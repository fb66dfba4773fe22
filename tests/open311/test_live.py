"""File a request and read it back over a real HTTP server, as a 311 app would (no external
network: pytest-django's live server on localhost)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from orders.models import Order, OrderEvent
from tests.factories import BASE_LAT, BASE_LNG
from tests.open311 import spec


def _call(url: str, data: dict | None = None) -> tuple[int, str, bytes]:
    body = urllib.parse.urlencode(data).encode("utf-8") if data is not None else None
    request = urllib.request.Request(url, data=body)  # noqa: S310 - the local live server
    if body is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


# serialized_rollback: the seeded categories come back even if an earlier transactional test
# flushed them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_file_then_read_back_over_a_live_server(live_server, o311_client, world, secretary):
    base = f"{live_server.url}/open311/v2"
    status, content_type, raw = _call(
        f"{base}/requests.json",
        {
            "api_key": o311_client.api_key,
            "jurisdiction_id": "sandan.local",
            "service_code": "repair",
            "lat": str(BASE_LAT + 0.0003),
            "long": str(BASE_LNG - 0.0002),
            "phone": "+86 139 0000 1111",
            "description": "廚房水管漏水，請盡快派人。",
            "attribute[repair-kind]": "plumbing",
        },
    )
    assert status == 201, raw
    assert content_type == "application/json; charset=utf-8"
    request_id = json.loads(raw)[0]["service_request_id"]

    status, content_type, raw = _call(f"{base}/requests/{request_id}.xml?jurisdiction_id=sandan.local")
    assert status == 200 and content_type == "text/xml; charset=utf-8"
    root = spec.parse_xml(raw)
    assert spec.shape(root) == spec.spec_shape(spec.SERVICE_REQUESTS)
    assert root.findtext("request/status") == "open"
    assert root.findtext("request/service_code") == "repair"
    assert root.findtext("request/description").startswith("廚房水管漏水，請盡快派人。")
    assert root.findtext("request/agency_responsible") == "North branch"
    assert b"0000 1111" not in raw and b"13900001111" not in raw

    status, _, raw = _call(f"{base}/requests.json?service_request_id={request_id}")
    assert [i["service_request_id"] for i in json.loads(raw)] == [request_id]

    # Refusals travel as spec errors too.
    status, _, raw = _call(f"{base}/requests.xml", {"api_key": "nope", "service_code": "repair"})
    assert status == 403 and spec.parse_xml(raw).findtext("error/code") == "403"

    order = Order.objects.get(pk=request_id)
    assert order.status == "submitted" and order.branch == world.north_branch
    assert OrderEvent.objects.get(order=order, action="submit").data == {"source": "Open311: 市民熱線 App"}
