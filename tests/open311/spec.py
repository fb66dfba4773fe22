"""The element names, nesting and list shapes of the GeoReport v2 examples
(wiki.open311.org/GeoReport_v2 and /Service_Discovery), written as empty skeletons:
structure only, no values. Our responses are reduced to the same skeleton and compared."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

SERVICES = """
<services><service>
  <service_code/><service_name/><description/><metadata/><type/><keywords/><group/>
</service></services>"""

SERVICE_DEFINITION = """
<service_definition>
  <service_code/>
  <attributes><attribute>
    <variable/><code/><datatype/><required/><datatype_description/><order/><description/>
    <values><value><key/><name/></value></values>
  </attribute></attributes>
</service_definition>"""

POST_RESPONSE = """
<service_requests><request>
  <service_request_id/><service_notice/><account_id/>
</request></service_requests>"""

SERVICE_REQUESTS = """
<service_requests><request>
  <service_request_id/><status/><status_notes/><service_name/><service_code/><description/>
  <agency_responsible/><service_notice/><requested_datetime/><updated_datetime/>
  <expected_datetime/><address/><address_id/><zipcode/><lat/><long/><media_url/>
</request></service_requests>"""

ERRORS = """<errors><error><code/><description/></error></errors>"""

DISCOVERY = """
<discovery>
  <changeset/><contact/><key_service/>
  <endpoints><endpoint>
    <specification/><url/><changeset/><type/><formats><format/></formats>
  </endpoint></endpoints>
</discovery>"""

# JSON (the Spark mapping): what each scalar is in the spec's JSON examples.
JSON_TYPES = {
    "metadata": bool,
    "variable": bool,
    "required": bool,
    "order": int,
    "service_request_id": int,
    "lat": float,
    "long": float,
}


def parse_xml(raw: bytes | str) -> ET.Element:
    # Our own responses and the skeletons above, never outside input.
    return ET.fromstring(raw)  # noqa: S314


def shape(element: ET.Element) -> Any:
    """An element's tag and its children's shapes; repeated siblings (a list) count once."""
    children: list[Any] = []
    for child in element:
        child_shape = shape(child)
        if child_shape not in children:
            children.append(child_shape)
    return (element.tag, tuple(children))


def spec_shape(skeleton: str) -> Any:
    return shape(parse_xml(skeleton.strip()))


def json_keys(skeleton: str) -> list[str]:
    """The keys of one item of the skeleton's list (or of its root object)."""
    root = parse_xml(skeleton.strip())
    item = root[0] if len(root) == 1 and len(root[0]) else root
    return [child.tag for child in item]
