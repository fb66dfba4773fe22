"""Every endpoint in both formats answers with the spec's element names, nesting and list
shapes, UTF-8 with the right content type, and dates in ISO 8601 with an offset."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from open311.models import ServiceAttribute
from orders.models import Category
from tests.open311 import spec
from tests.open311.conftest import BASE, body

pytestmark = pytest.mark.django_db

W3 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


def _xml(response) -> ET.Element:
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return spec.parse_xml(response.content)


def _json(response):
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content.decode("utf-8"))


def _check_types(item: dict) -> None:
    for key, value in item.items():
        if key in spec.JSON_TYPES and value is not None:
            assert isinstance(value, spec.JSON_TYPES[key]), (key, value)


@pytest.fixture
def filed(post_request):
    response = post_request("json")
    assert response.status_code == 201, response.content
    return json.loads(response.content)[0]["service_request_id"]


def test_discovery_in_both_formats(http):
    root = _xml(http.get(f"{BASE}/discovery.xml"))
    assert spec.shape(root) == spec.spec_shape(spec.DISCOVERY)
    assert [f.text for f in root.iter("format")] == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"
    assert root.findtext("endpoints/endpoint/url") == "http://testserver/open311/v2"

    data = _json(http.get(f"{BASE}/discovery.json"))
    assert list(data) == spec.json_keys(spec.DISCOVERY)
    endpoint = data["endpoints"][0]
    assert list(endpoint) == ["specification", "url", "changeset", "type", "formats"]
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["type"] in {"production", "test"}


def test_services_list_every_active_category_in_both_formats(http):
    Category.objects.filter(code="cleaning").update(active=False)
    root = _xml(http.get(f"{BASE}/services.xml"))
    assert spec.shape(root) == spec.spec_shape(spec.SERVICES)
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert "errands" in codes and "cleaning" not in codes
    errands = next(s for s in root.findall("service") if s.findtext("service_code") == "errands")
    assert errands.findtext("service_name") == "跑腿代購"
    assert errands.findtext("type") == "realtime"
    assert errands.findtext("metadata") == "false"
    repair = next(s for s in root.findall("service") if s.findtext("service_code") == "repair")
    assert repair.findtext("metadata") == "true"  # it has a service definition (seeded)

    items = _json(http.get(f"{BASE}/services.json"))
    assert [i["service_code"] for i in items] == codes
    for item in items:
        assert list(item) == spec.json_keys(spec.SERVICES)
        _check_types(item)
    assert next(i for i in items if i["service_code"] == "errands")["group"] == "everyday"


def test_service_definition_in_both_formats(http):
    # The seeded definition of home repairs: one singlevaluelist, like the spec's example.
    assert spec.shape(_xml(http.get(f"{BASE}/services/repair.xml"))) == spec.spec_shape(spec.SERVICE_DEFINITION)

    repair = Category.objects.get(code="repair")
    ServiceAttribute.objects.create(
        category=repair, code="floor", datatype="number", order=2, description="幾樓？", required=True
    )
    root = _xml(http.get(f"{BASE}/services/repair.xml"))
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["repair-kind", "floor"]
    assert [v.findtext("name") for v in attributes[0].findall("values/value")][:2] == ["水管", "電路"]
    assert attributes[1].findtext("required") == "true"

    data = _json(http.get(f"{BASE}/services/repair.json"))
    assert list(data) == spec.json_keys(spec.SERVICE_DEFINITION)
    assert data["service_code"] == "repair"
    for attribute in data["attributes"]:
        assert list(attribute) == [
            "variable",
            "code",
            "datatype",
            "required",
            "datatype_description",
            "order",
            "description",
            "values",
        ]
        _check_types(attribute)
    assert data["attributes"][0]["values"][0] == {"key": "plumbing", "name": "水管"}
    assert data["attributes"][1]["values"] == []


def test_service_without_attributes_has_an_empty_definition(http):
    root = _xml(http.get(f"{BASE}/services/errands.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "errands"
    assert list(root.find("attributes")) == []
    assert _json(http.get(f"{BASE}/services/errands.json")) == {"service_code": "errands", "attributes": []}


def test_post_answers_in_both_formats(post_request):
    root = _xml(post_request("xml", email="a@example.com"))
    assert spec.shape(root) == spec.spec_shape(spec.POST_RESPONSE)
    assert root.findtext("request/service_request_id").isdigit()
    assert root.find("request/token") is None  # realtime: an id, never a token

    response = post_request("json", email="b@example.com")
    assert response.status_code == 201
    items = _json(response)
    assert len(items) == 1 and list(items[0]) == spec.json_keys(spec.POST_RESPONSE)
    _check_types(items[0])


def test_requests_and_one_request_in_both_formats(http, filed):
    for path in ("requests", f"requests/{filed}"):
        root = _xml(http.get(f"{BASE}/{path}.xml"))
        assert spec.shape(root) == spec.spec_shape(spec.SERVICE_REQUESTS)
        assert root.findtext("request/service_request_id") == str(filed)
        for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert W3.match(root.findtext(f"request/{name}")), name
        assert root.findtext("request/requested_datetime").endswith("+08:00")

        items = _json(http.get(f"{BASE}/{path}.json"))
        assert [list(i) for i in items] == [spec.json_keys(spec.SERVICE_REQUESTS)]
        _check_types(items[0])
        assert items[0]["service_request_id"] == filed
        assert items[0]["service_name"] == "跑腿代購"
        assert items[0]["address_id"] is None and items[0]["zipcode"] is None


def test_errors_in_both_formats(http):
    root = _xml(http.get(f"{BASE}/requests/999999.xml"))
    assert spec.shape(root) == spec.spec_shape(spec.ERRORS)
    assert root.findtext("error/code") == "404"

    items = _json(http.get(f"{BASE}/requests/999999.json"))
    assert list(items[0]) == spec.json_keys(spec.ERRORS)
    assert items[0]["code"] == 404 and isinstance(items[0]["code"], int) and "999999" in items[0]["description"]


def test_unknown_resource_and_token_are_spec_errors(http):
    for path, fmt in (("tokens/12345.xml", "xml"), ("tokens/12345.json", "json"), ("nothing.json", "json")):
        response = http.get(f"{BASE}/{path}")
        assert response.status_code == 404
        parsed = body(response)
        code = parsed[0]["code"] if fmt == "json" else int(parsed.findtext("error/code"))
        assert code == 404


def test_root_serves_discovery(http):
    response = http.get(f"{BASE}/")
    assert response.status_code == 200 and spec.parse_xml(response.content).tag == "discovery"


def test_wrong_method_is_a_405_in_the_asked_format(http):
    response = http.post(f"{BASE}/services.json")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert json.loads(response.content)[0]["code"] == 405


def test_reads_are_open_to_browser_dashboards(http):
    assert http.get(f"{BASE}/services.json")["Access-Control-Allow-Origin"] == "*"
    assert http.head(f"{BASE}/services.json").status_code == 200


def test_user_text_is_escaped_and_kept_valid_xml(http, post_request):
    text = "<b>漏水</b> & 'quotes' \x07bell"
    response = post_request("json", description=text)
    request_id = json.loads(response.content)[0]["service_request_id"]
    raw = http.get(f"{BASE}/requests/{request_id}.xml").content
    assert b"<b>" not in raw and b"&lt;b&gt;" in raw
    assert spec.parse_xml(raw).findtext("request/description") == "<b>漏水</b> & 'quotes' bell"


def test_unknown_or_inactive_service_definition_is_404_in_both_formats(http):
    Category.objects.filter(code="cleaning").update(active=False)
    for code in ("rocket-science", "cleaning"):
        root = _xml(http.get(f"{BASE}/services/{code}.xml"))
        assert root.findtext("error/code") == "404" and code in root.findtext("error/description")
        response = http.get(f"{BASE}/services/{code}.json")
        assert response.status_code == 404 and _json(response)[0]["code"] == 404
