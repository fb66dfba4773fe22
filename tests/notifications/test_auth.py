"""Who may open /ws/: a session cookie or a fresh single-use ticket, from an allowed origin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import RealtimeTicket
from tests.notifications.conftest import db, new_ticket, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_socket_is_refused(world):
    async def scenario():
        comm, connected, _ = await open_socket()
        assert not connected
        await comm.disconnect()

    run(scenario)


def test_session_cookie_opens_socket_with_hello_and_cursor(resident):
    async def scenario():
        comm, connected, hello = await open_socket(resident)
        assert connected
        assert hello["user"] == resident.pk
        assert isinstance(hello["cursor"], int)
        assert hello["retention_seconds"] == 7 * 86400
        await comm.disconnect()

    run(scenario)


def test_foreign_origin_is_refused_even_with_a_valid_session(resident):
    async def scenario():
        comm, connected, _ = await open_socket(resident, origin=b"https://evil.example")
        assert not connected
        await comm.disconnect()
        comm, connected, _ = await open_socket(resident, origin=None)
        assert not connected
        await comm.disconnect()

    run(scenario)


def test_ticket_opens_one_socket_and_a_reused_ticket_is_refused(volunteer):
    async def scenario():
        ticket = await new_ticket(volunteer)
        first, connected, hello = await open_socket(ticket=ticket)
        assert connected and hello["user"] == volunteer.pk
        second, connected_again, _ = await open_socket(ticket=ticket)
        assert not connected_again
        await first.disconnect()
        await second.disconnect()

    run(scenario)


def test_expired_or_unknown_ticket_is_refused(volunteer):
    async def scenario():
        ticket = await new_ticket(volunteer)
        await db(RealtimeTicket.objects.update)(expires_at=timezone.now() - timedelta(seconds=1))
        comm, connected, _ = await open_socket(ticket=ticket)
        assert not connected
        await comm.disconnect()
        comm, connected, _ = await open_socket(ticket="not-a-ticket")
        assert not connected
        await comm.disconnect()

    run(scenario)


def test_a_bad_ticket_does_not_fall_back_to_the_cookie(volunteer):
    async def scenario():
        comm, connected, _ = await open_socket(volunteer, ticket="forged")
        assert not connected
        await comm.disconnect()

    run(scenario)


def test_ticket_endpoint_needs_a_signed_in_user_and_stores_only_a_hash(api, volunteer):
    assert api().post("/api/v1/realtime/ticket").status_code in {401, 403}
    response = api(volunteer).post("/api/v1/realtime/ticket")
    assert response.status_code == 201
    token = response.data["ticket"]
    assert response.data["url"] == f"/ws/?ticket={token}"
    stored = RealtimeTicket.objects.get(user=volunteer)
    assert stored.key != token and token not in stored.key
    assert stored.expires_at <= timezone.now() + timedelta(seconds=60)
