"""Who may open /ws/: a session cookie or a fresh single-use ticket, from an allowed origin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import RealtimeTicket
from tests.notifications.conftest import db, new_ticket, open_socket, run


@pytest.mark.django_db(transaction=True)
def test_session_cookie_opens_socket_with_hello_and_cursor(resident):
    async def scenario():
        comm, connected, hello = await open_socket(resident)
        assert connected
        assert hello["user"] == resident.pk
        assert isinstance(hello["cursor"], int)
        assert hello["retention_seconds"] == 7 * 86400
        await comm.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_anonymous_foreign_origin_and_forged_tickets_are_refused(resident):
    async def scenario():
        refused = [
            await open_socket(),  # anonymous
            await open_socket(resident, origin=b"https://evil.example"),  # a valid session, foreign page
            await open_socket(resident, origin=None),  # no Origin at all
            await open_socket(resident, ticket="forged"),  # a bad ticket does not fall back to the cookie
            await open_socket(ticket="x" * 500),
        ]
        for comm, connected, _ in refused:
            assert not connected
            await comm.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_ticket_opens_one_socket_and_a_reused_or_expired_ticket_is_refused(volunteer):
    async def scenario():
        ticket = await new_ticket(volunteer)
        first, connected, hello = await open_socket(ticket=ticket)
        assert connected and hello["user"] == volunteer.pk
        second, connected_again, _ = await open_socket(ticket=ticket)
        assert not connected_again
        late = await new_ticket(volunteer)
        await db(RealtimeTicket.objects.filter(used_at__isnull=True).update)(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        third, connected_late, _ = await open_socket(ticket=late)
        assert not connected_late
        for comm in (first, second, third):
            await comm.disconnect()

    run(scenario)


@pytest.mark.django_db
def test_ticket_endpoint_needs_a_signed_in_user_and_stores_only_a_hash(api, volunteer):
    assert api().post("/api/v1/realtime/ticket").status_code in {401, 403}
    response = api(volunteer).post("/api/v1/realtime/ticket")
    assert response.status_code == 201
    token = response.data["ticket"]
    assert response.data["url"] == f"/ws/?ticket={token}"
    stored = RealtimeTicket.objects.get(user=volunteer)
    assert stored.key != token and token not in stored.key
    assert stored.expires_at <= timezone.now() + timedelta(seconds=60)
