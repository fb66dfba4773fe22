"""The two formats of GeoReport v2: XML (required by the spec) and JSON (its Spark mapping).

One payload (dicts and lists) renders to both. A top-level list becomes the spec's plural
root with one singular child per item (`service_requests` → `request`); a list inside a
dict does the same under its key (`attributes` → `attribute`, `formats` → `format`).
None becomes an empty element in XML and null in JSON, as in the spec's examples."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from django.http import HttpResponse

from open311.errors import Open311Error, Problem

FORMATS = ("xml", "json")
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}

# The spec's list shapes: the element each item of a plural element is written as.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}

# Characters XML 1.0 cannot carry at all; user text is stripped of them rather than
# producing a document no parser accepts.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_ILLEGAL.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list):
        item_tag = ITEM_TAGS[element.tag]
        for item in value:
            _fill(ET.SubElement(element, item_tag), item)
    else:
        element.text = _text(value)


def to_xml(root: str, payload: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, payload)
    body = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def to_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def render(fmt: str, root: str, payload: Any, *, status: int = 200) -> HttpResponse:
    body = to_xml(root, payload) if fmt == "xml" else to_json(payload)
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def render_error(fmt: str, error: Open311Error) -> HttpResponse:
    response = render(fmt, "errors", [_problem(p) for p in error.problems], status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _problem(problem: Problem) -> dict[str, Any]:
    return {"code": problem.code, "description": problem.description}
