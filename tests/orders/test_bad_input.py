"""Hostile and careless input: a 400 naming the field, nothing stored, never a 500.

Covers order creation, action bodies, attachments (checked by content, not by name) and the
per-resident rate limit on posting orders.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from notifications.models import Event
from orders.models import Attachment, Order, OrderEvent
from tests.orders.conftest import snapshot
from tests.orders.media import jpeg_bytes, wav_bytes

pytestmark = pytest.mark.django_db

GOOD = {"category": "errands", "description": "Please fetch my medicine."}


def stored() -> tuple[int, int, int]:
    return Order.objects.count(), OrderEvent.objects.count(), Event.objects.count()


# (what is wrong, body, the field the 400 must name)
BAD_ORDERS: list[tuple[str, Any, str]] = [
    ("latitude off the planet", {**GOOD, "lat": 999, "lng": 121.47}, "lat"),
    ("longitude off the planet", {**GOOD, "lat": 31.23, "lng": -181}, "lng"),
    ("latitude without longitude", {**GOOD, "lat": 31.23}, "lng"),
    ("latitude not a number", {**GOOD, "lat": "north-ish", "lng": 121.47}, "lat"),
    ("latitude NaN", {**GOOD, "lat": "NaN", "lng": 121.47}, "lat"),
    ("latitude infinite", {**GOOD, "lat": "1e400", "lng": 121.47}, "lat"),
    ("latitude a boolean", {**GOOD, "lat": True, "lng": True}, "lat"),
    ("latitude null", {**GOOD, "lat": None, "lng": None}, "lat"),
    ("latitude a list", {**GOOD, "lat": [31.23], "lng": 121.47}, "lat"),
    ("unknown category", {**GOOD, "category": "teleportation"}, "category"),
    ("category not a slug", {**GOOD, "category": "../../etc/passwd"}, "category"),
    ("category a list", {**GOOD, "category": ["errands"]}, "category"),
    ("category missing", {"description": "Help"}, "category"),
    ("empty description", {**GOOD, "description": ""}, "description"),
    ("blank description", {**GOOD, "description": "   \n\t "}, "description"),
    ("description missing", {"category": "errands"}, "description"),
    ("description an object", {**GOOD, "description": {"text": "help"}}, "description"),
    ("description too long", {**GOOD, "description": "x" * 2001}, "description"),
    ("description with a NUL byte", {**GOOD, "description": "help\x00me"}, "description"),
    ("unknown urgency", {**GOOD, "urgency": "yesterday"}, "urgency"),
    ("phone that is not a phone", {**GOOD, "contact_phone": "call me maybe"}, "contact_phone"),
    ("address too long", {**GOOD, "address": "a" * 256}, "address"),
    ("window start not a date", {**GOOD, "window_start": "2026-13-45T25:00"}, "window_start"),
    (
        "window that ends before it starts",
        {**GOOD, "window_start": "2026-12-01T10:00:00+08:00", "window_end": "2026-12-01T09:00:00+08:00"},
        "window_end",
    ),
    ("resident not an id", {**GOOD, "resident": "me"}, "resident"),
    ("body is a list", [GOOD], "non_field_errors"),
    ("body is a string", "errands please", "non_field_errors"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS])
def test_bad_order_gets_400_naming_the_field(case, body, field, api, resident):
    before = stored()
    response = api(resident).post("/api/v1/orders", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json().get(field), response.content
    assert stored() == before


@pytest.mark.parametrize(
    ("case", "raw"),
    [
        ("truncated JSON", '{"category": "errands", "descr'),
        ("not JSON at all", "<xml>order</xml>"),
        ("a bare NaN", '{"category": "errands", "description": "x", "lat": NaN, "lng": 1}'),
        ("nested beyond reason", "[" * 100_000 + "]" * 100_000),
        ("a lone surrogate", '{"category": "errands", "description": "\\ud800"}'),
    ],
)
def test_unparseable_body_gets_400(case, raw, api, resident, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    before = stored()
    response = api(resident).post("/api/v1/orders", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()  # the API's JSON shape, not Django's HTML error page
    assert stored() == before


def test_oversized_body_gets_413_in_the_api_shape(api, resident, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    before = stored()
    response = api(resident).post("/api/v1/orders", {**GOOD, "description": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert stored() == before


def test_wrong_media_type_is_refused(api, resident):
    response = api(resident).post("/api/v1/orders", "category=errands", content_type="text/plain")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_idempotency_key_too_long_names_the_header(api, resident):
    before = stored()
    response = api(resident).post("/api/v1/orders", GOOD, format="json", HTTP_IDEMPOTENCY_KEY="k" * 129)
    assert response.status_code == 400 and "Idempotency-Key" in response.data
    assert stored() == before


# --- action bodies -------------------------------------------------------------------------


def _bad_actions(world) -> list[tuple[str, str, str, Any, int, str]]:
    """(case, status the order is in, action, body, expected status, field or code)."""
    return [
        ("rating 0", "completed", "confirm", {"rating": 0}, 400, "rating"),
        ("rating 6", "completed", "confirm", {"rating": 6}, 400, "rating"),
        ("rating a word", "completed", "confirm", {"rating": "five"}, 400, "rating"),
        ("rating a fraction", "completed", "confirm", {"rating": 4.5}, 400, "rating"),
        ("no rating", "completed", "confirm", {"comment": "ok"}, 400, "rating"),
        ("comment too long", "completed", "confirm", {"rating": 5, "comment": "c" * 1001}, 400, "comment"),
        ("hours -1", "in_progress", "complete", {"hours": -1}, 400, "hours"),
        ("hours 0", "in_progress", "complete", {"hours": 0}, 400, "hours"),
        ("hours 25", "in_progress", "complete", {"hours": 25}, 400, "hours"),
        ("hours a word", "in_progress", "complete", {"hours": "lots"}, 400, "hours"),
        ("hours NaN", "in_progress", "complete", {"hours": "NaN"}, 400, "hours"),
        ("no hours", "in_progress", "complete", {"note": "done"}, 400, "hours"),
        ("direct without volunteer", "accepted", "dispatch", {"mode": "direct"}, 400, "volunteer"),
        ("unknown volunteer", "accepted", "dispatch", {"mode": "direct", "volunteer": 987654}, 400, "volunteer"),
        ("huge volunteer id", "accepted", "dispatch", {"mode": "pool", "volunteers": [10**30]}, 400, "volunteers"),
        ("volunteers not a list", "accepted", "dispatch", {"mode": "pool", "volunteers": "all"}, 400, "volunteers"),
        ("pool of nobody", "accepted", "dispatch", {"mode": "pool", "volunteers": []}, 400, "volunteers"),
        ("top 0", "accepted", "dispatch", {"mode": "pool", "top": 0}, 400, "top"),
        ("unknown mode", "accepted", "dispatch", {"mode": "carrier-pigeon"}, 400, "mode"),
        ("no mode", "accepted", "dispatch", {}, 400, "mode"),
        ("transfer nowhere", "submitted", "transfer", {"reason": "x"}, 400, "branch"),
        ("transfer to no branch", "submitted", "transfer", {"branch": 987654, "reason": "x"}, 400, "branch"),
        (
            "transfer to itself",
            "submitted",
            "transfer",
            {"branch": world.north_branch.pk, "reason": "x"},
            400,
            "branch",
        ),
        ("transfer without reason", "submitted", "transfer", {"branch": world.south_branch.pk}, 400, "reason"),
        ("reject without reason", "submitted", "reject", {}, 400, "reason"),
        ("reject with blank reason", "submitted", "reject", {"reason": "  "}, 400, "reason"),
        ("release without reason", "claimed", "release", {}, 400, "reason"),
        ("reopen without reason", "completed", "reopen", {}, 400, "reason"),
        ("reason too long", "submitted", "reject", {"reason": "r" * 501}, 400, "reason"),
        ("body a list", "submitted", "reject", ["reason"], 400, "non_field_errors"),
        ("unknown action", "submitted", "teleport", {}, 404, "not_found"),
        ("an action that is a model field", "submitted", "status", {"status": "closed"}, 404, "not_found"),
    ]


ACTOR = {
    "confirm": "resident",
    "reopen": "resident",
    "complete": "volunteer",
    "release": "volunteer",
}


@pytest.mark.parametrize("index", range(32))
def test_bad_action_body_is_refused_and_changes_nothing(
    index, api, world, resident, secretary, volunteer, new_order, reach
):
    case, status, action, body, code, key = _bad_actions(world)[index]
    order = reach(new_order(), status)
    actor = {"resident": resident, "volunteer": volunteer}.get(ACTOR.get(action, ""), secretary)
    before = snapshot(order.pk)
    response = api(actor).post(f"/api/v1/orders/{order.pk}/{action}", body, format="json")
    assert response.status_code == code, (case, response.data)
    assert key in response.data or response.data.get("code") == key, (case, response.data)
    assert snapshot(order.pk) == before


def test_the_bad_action_table_is_fully_parametrized(world):
    assert len(_bad_actions(world)) == 32


# --- fuzzing: whatever arrives, the answer is a 4xx or a success, never a 500 ---------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
ORDER_KEYS = [
    "category",
    "description",
    "lat",
    "lng",
    "address",
    "contact_phone",
    "urgency",
    "window_start",
    "resident",
]
ACTION_KEYS = [
    "reason",
    "mode",
    "volunteer",
    "volunteers",
    "top",
    "hours",
    "note",
    "rating",
    "comment",
    "branch",
    "area",
]


def _fuzz_body(keys: list[str]):
    return st.one_of(
        st.dictionaries(st.sampled_from(keys), json_values, max_size=6),
        st.fixed_dictionaries(
            {"category": st.sampled_from(["errands", "repair", "x"])},
            optional={"description": st.text(max_size=50), "lat": json_values, "lng": json_values},
        ),
        json_values,
    )


FUZZ = hypothesis_settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def no_rate_limit(settings):
    settings.SANDAN = {**settings.SANDAN, "ORDER_SUBMIT_RATE": "100000/hour"}


@FUZZ
@given(body=_fuzz_body(ORDER_KEYS))
def test_fuzzed_order_bodies_never_500(body, api, resident, no_rate_limit):
    response = api(resident).post("/api/v1/orders", json.dumps(body), content_type="application/json")
    assert response.status_code in {201, 400, 403}, (body, response.content)


@FUZZ
@given(
    body=_fuzz_body(ACTION_KEYS),
    action=st.sampled_from(["accept", "reject", "transfer", "cancel", "dispatch", "recall", "reopen"]),
)
def test_fuzzed_action_bodies_never_500(body, action, api, secretary, new_order):
    order = new_order()
    response = api(secretary).post(
        f"/api/v1/orders/{order.pk}/{action}", json.dumps(body), content_type="application/json"
    )
    assert response.status_code in {200, 400, 403, 404, 409}, (body, response.content)


# --- attachments ---------------------------------------------------------------------------


def _attach(client, order_id: int, kind: str, name: str, data: bytes, content_type: str = "application/octet-stream"):
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post(f"/api/v1/orders/{order_id}/attachments", {"kind": kind, "file": upload}, format="multipart")


@pytest.fixture
def order(new_order):
    return new_order()


def _stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_photo_is_reencoded_without_exif_and_kept_outside_static(api, resident, order, settings):
    original = jpeg_bytes()
    assert b"Exif" in original and Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    response = _attach(api(resident), order.pk, "photo", "home.png", original, "image/png")
    assert response.status_code == 201, response.data
    assert response.data["content_type"] == "image/jpeg"

    attachment = Attachment.objects.get()
    path = Path(attachment.file.path).resolve()
    kept = path.read_bytes()
    assert kept != original
    assert b"Exif" not in kept and b"SandanCam" not in kept
    assert not Image.open(io.BytesIO(kept)).getexif()
    assert Path(settings.MEDIA_ROOT).resolve() in path.parents
    assert Path(settings.STATIC_ROOT).resolve() not in path.parents
    assert "home" not in path.name  # the uploader's file name is not kept
    download = api(resident).get(response.data["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == kept
    assert download["Content-Type"] == "image/jpeg" and download["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("case", "kind", "name", "data"),
    [
        ("text named .jpg", "photo", "cat.jpg", b"I am not a picture, just some text.\n" * 10),
        ("truncated JPEG", "photo", "cut.jpg", jpeg_bytes()[:200]),
        ("HTML named .jpg", "photo", "x.jpg", b"<html><script>alert(1)</script></html>"),
        ("empty file", "photo", "empty.jpg", b""),
        ("a recording sent as photo", "photo", "voice.jpg", wav_bytes(1)),
        ("a photo sent as voice", "voice", "photo.wav", jpeg_bytes()),
        ("noise named .mp3", "voice", "song.mp3", bytes(range(256)) * 8),
        ("text named .wav", "voice", "note.wav", b"RIFF but not really" * 4),
        ("unknown kind", "video", "clip.jpg", jpeg_bytes()),
    ],
)
def test_attachment_checked_by_content_not_name(case, kind, name, data, api, resident, order, settings):
    response = _attach(api(resident), order.pk, kind, name, data, "image/jpeg")
    assert response.status_code == 400, (case, response.data)
    assert {"file", "kind"} & set(response.data), response.data
    assert not Attachment.objects.exists() and _stored_files(settings) == []


def test_missing_file_names_the_field(api, resident, order):
    response = api(resident).post(f"/api/v1/orders/{order.pk}/attachments", {"kind": "photo"}, format="multipart")
    assert response.status_code == 400 and "file" in response.data


def test_oversized_photo_is_refused(api, resident, order, settings):
    settings.SANDAN = {**settings.SANDAN, "MAX_PHOTO_BYTES": 2000}
    big = jpeg_bytes((400, 400)) + b"\0" * 2000
    response = _attach(api(resident), order.pk, "photo", "big.jpg", big, "image/jpeg")
    assert response.status_code == 400 and "file" in response.data
    assert not Attachment.objects.exists() and _stored_files(settings) == []


def test_picture_with_too_many_pixels_is_refused_before_decoding(api, resident, order, settings):
    settings.SANDAN = {**settings.SANDAN, "MAX_PHOTO_PIXELS": 100 * 100}
    response = _attach(api(resident), order.pk, "photo", "wide.jpg", jpeg_bytes((200, 100)), "image/jpeg")
    assert response.status_code == 400 and "file" in response.data


def _png_header(width: int, height: int) -> bytes:
    """A PNG that is only a header: it claims width × height pixels and holds none."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("case", "width", "height"),
    [
        ("beyond Pillow's own limit: DecompressionBombError", 100_000, 100_000),
        ("36 megapixels: below Pillow's limit, above ours", 6_000, 6_000),
        ("a header and no pixels at all: Pillow's verify raises IndexError", 100, 100),
    ],
)
def test_a_decompression_bomb_is_refused_with_a_400(case, width, height, api, resident, order, settings):
    png = _png_header(width, height)
    assert len(png) == 45
    response = _attach(api(resident), order.pk, "photo", "bomb.png", png, "image/png")
    assert response.status_code == 400, (case, response.content)
    assert "file" in response.data
    assert not Attachment.objects.exists() and _stored_files(settings) == []


def test_wav_recording_is_accepted_with_its_duration(api, resident, order):
    response = _attach(api(resident), order.pk, "voice", "note.bin", wav_bytes(1.5), "application/octet-stream")
    assert response.status_code == 201, response.data
    assert response.data["kind"] == "voice" and response.data["content_type"] == "audio/wav"
    assert response.data["duration_s"] == pytest.approx(1.5, abs=0.01)


def test_too_long_recording_is_refused(api, resident, order, settings):
    settings.SANDAN = {**settings.SANDAN, "MAX_AUDIO_SECONDS": 2}
    response = _attach(api(resident), order.pk, "voice", "long.wav", wav_bytes(3), "audio/wav")
    assert response.status_code == 400 and "file" in response.data
    assert not Attachment.objects.exists() and _stored_files(settings) == []


def test_too_large_recording_is_refused(api, resident, order, settings):
    settings.SANDAN = {**settings.SANDAN, "MAX_AUDIO_BYTES": 4000}
    response = _attach(api(resident), order.pk, "voice", "big.wav", wav_bytes(1), "audio/wav")
    assert response.status_code == 400 and "file" in response.data


def test_attachments_per_order_are_capped(api, resident, order, settings):
    settings.SANDAN = {**settings.SANDAN, "MAX_ATTACHMENTS_PER_ORDER": 2}
    client = api(resident)
    assert [_attach(client, order.pk, "photo", "a.jpg", jpeg_bytes()).status_code for _ in range(3)] == [201, 201, 400]
    assert Attachment.objects.count() == 2


def test_attachments_only_while_the_order_is_open(api, resident, new_order, reach):
    closed = reach(new_order(), "closed")
    response = _attach(api(resident), closed.pk, "photo", "late.jpg", jpeg_bytes())
    assert response.status_code == 409 and response.data["code"] == "invalid_transition"


# --- rate limit ----------------------------------------------------------------------------


@pytest.fixture
def three_per_hour(settings):
    settings.SANDAN = {**settings.SANDAN, "ORDER_SUBMIT_RATE": "3/hour"}


def test_posting_more_than_the_rate_gets_429(three_per_hour, api, resident, other_resident):
    client = api(resident)
    codes = [
        client.post("/api/v1/orders", {**GOOD, "description": f"Request {i}"}, format="json").status_code
        for i in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    refused = client.post("/api/v1/orders", GOOD, format="json")
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert "Retry-After" in refused
    assert resident.orders.count() == 3
    # Per resident: a neighbour is not held back, and reading is never throttled.
    assert api(other_resident).post("/api/v1/orders", GOOD, format="json").status_code == 201
    assert client.get("/api/v1/orders").status_code == 200


def test_a_retry_of_a_known_key_is_never_throttled(three_per_hour, api, resident):
    client = api(resident)
    first = client.post("/api/v1/orders", GOOD, format="json", HTTP_IDEMPOTENCY_KEY="phone-retry-1")
    assert first.status_code == 201
    for i in range(2):
        assert client.post("/api/v1/orders", {**GOOD, "description": f"More {i}"}, format="json").status_code == 201
    assert client.post("/api/v1/orders", GOOD, format="json").status_code == 429
    # The phone lost the first response and retries: it gets its order, not a 429.
    retry = client.post("/api/v1/orders", GOOD, format="json", HTTP_IDEMPOTENCY_KEY="phone-retry-1")
    assert retry.status_code == 200 and retry.data["id"] == first.data["id"]
    # A new key is a new order, and that is throttled.
    fresh = client.post("/api/v1/orders", GOOD, format="json", HTTP_IDEMPOTENCY_KEY="phone-retry-2")
    assert fresh.status_code == 429
    assert resident.orders.count() == 3


# --- what PostgreSQL cannot store: a NUL anywhere a string reaches a query -------------------


@pytest.mark.parametrize("status", ["\x00", "bogus", "CLOSED"])
def test_unknown_status_filter_names_the_parameter(status, api, resident):
    response = api(resident).get("/api/v1/orders", {"status": status})
    assert response.status_code == 400 and "status" in response.json()


def test_known_status_filter_works(api, resident, new_order, reach):
    kept = reach(new_order(), "accepted")
    new_order()
    response = api(resident).get("/api/v1/orders", {"status": "accepted"})
    assert [o["id"] for o in response.data["results"]] == [kept.pk]


@pytest.mark.parametrize("key", ["tap\x00one", "tap\x01one", "tap one", "тап"])
def test_idempotency_key_with_control_or_odd_characters_is_refused(key, api, resident):
    before = stored()
    response = api(resident).post("/api/v1/orders", GOOD, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400 and "Idempotency-Key" in response.data
    assert stored() == before


@pytest.mark.parametrize("token", ["..%2F..%2Fsettings.py", "A" * 32, "0" * 31])
def test_malformed_attachment_token_is_404(token, api, resident):
    assert api(resident).get(f"/api/v1/attachments/{token}").status_code == 404


def test_a_nul_in_the_path_is_a_400(api, resident):
    response = api(resident).get("/api/v1/attachments/%00abc")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_a_request_that_waited_out_the_connection_pool_gets_503_with_retry_after(api, resident, monkeypatch):
    # What Django raises when all DB_POOL_MAX_SIZE connections stayed busy for DB_POOL_TIMEOUT.
    from django.db import OperationalError
    from psycopg_pool import PoolTimeout

    import orders.api

    def exhausted(*args, **kwargs):
        raise OperationalError("couldn't get a connection after 10.00 sec") from PoolTimeout("timeout")

    monkeypatch.setattr(orders.api, "OrderRows", exhausted)
    response = api(resident).get("/api/v1/orders")
    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert response["Retry-After"] == "5"
