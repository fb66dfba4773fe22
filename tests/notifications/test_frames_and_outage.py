"""A handshake while Redis is away is closed with 4013 ("try again later"), never an HTTP
500; a malformed frame, however it is malformed, costs an `error` frame and not the socket."""

from __future__ import annotations

import contextlib
import json

import pytest
from channels.testing import WebsocketCommunicator
from redis.exceptions import ConnectionError as RedisConnectionError

from project.asgi import application
from tests.notifications.conftest import ORIGIN, db, drain, open_socket, run, session_cookie
from tests.notifications.live import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "backend",
    [
        "notifications.layers.PubSubChannelLayer",  # fails before connect(): opening the socket's channel
        "channels_redis.core.RedisChannelLayer",  # fails in connect(): joining the user's group
    ],
)
def test_a_handshake_while_redis_is_down_is_closed_with_4013(backend, settings, volunteer):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": backend,
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{free_port()}/0", "socket_connect_timeout": 0.5}]},
        }
    }

    async def scenario():
        headers = [(b"host", b"127.0.0.1"), (b"origin", ORIGIN), (b"cookie", await db(session_cookie)(volunteer))]
        comm = WebsocketCommunicator(application, "/ws/", headers=headers)
        connected, _ = await comm.connect(timeout=15)
        closed = await comm.receive_output(timeout=10)
        # The core layer's consumer then fails reading its channel from the absent Redis: after
        # the close went out, so the phone sees 4013 either way (daphne logs the error).
        with contextlib.suppress(ConnectionError, RedisConnectionError):
            await comm.wait()
        return connected, closed

    connected, closed = run(scenario)
    # Accepted and closed at once: the close code reaches the phone, an HTTP status would not.
    assert connected is True
    assert closed == {"type": "websocket.close", "code": 4013}


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 2000 + "]" * 2000,  # 4,000 bytes, within the size limit: json raises RecursionError
        '{"type": "ping", "ref": ' + "[" * 1500 + "]" * 1500 + "}",
    ],
)
def test_a_deeply_nested_frame_gets_an_error_frame_and_the_socket_stays_open(frame, volunteer):
    async def scenario():
        comm, connected, _ = await open_socket(volunteer)
        assert connected
        await comm.send_to(text_data=frame)
        error = await comm.receive_json_from(timeout=5)
        await comm.send_json_to({"type": "ping", "ref": "still-there"})
        pong = await drain(comm, 1)
        await comm.disconnect()
        return error, pong

    error, pong = run(scenario)
    assert error["type"] == "error" and error["code"] == "bad_json"
    assert pong == [{"type": "pong", "ref": "still-there"}]
    assert len(json.dumps(error)) < 200
