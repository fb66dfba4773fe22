"""Tickets redeemed together: a storm of handshakes costs one statement per batch, and a ticket
is still spent exactly once, by one socket, whichever batch or process presents it."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications import auth
from notifications.models import RealtimeTicket
from notifications.realtime import realtime_ticket_issue, realtime_tickets_redeem
from tests.factories import UserFactory
from tests.notifications.conftest import new_ticket, open_socket, run


@pytest.mark.django_db
def test_a_batch_spends_the_valid_tickets_and_names_their_users(resident, volunteer):
    good = realtime_ticket_issue(user=resident)[0]
    other = realtime_ticket_issue(user=volunteer)[0]
    used = realtime_ticket_issue(user=volunteer)[0]
    realtime_tickets_redeem(tokens=[used])
    expired, ticket = realtime_ticket_issue(user=resident)
    RealtimeTicket.objects.filter(pk=ticket.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    gone = UserFactory(username="gone", is_active=False)
    inactive = realtime_ticket_issue(user=gone)[0]

    got = realtime_tickets_redeem(tokens=[good, other, used, expired, inactive, "forged", "x" * 500, good])

    assert got == {good: resident, other: volunteer}
    # Spent, all of them that were valid: presented again, nothing.
    assert realtime_tickets_redeem(tokens=[good, other]) == {}
    assert RealtimeTicket.objects.filter(used_at__isnull=True).count() == 1  # the expired one, unspent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_tickets_presented_by_many_connections_at_once_are_each_spent_once(resident, volunteer):
    tokens = [realtime_ticket_issue(user=resident if n % 2 else volunteer)[0] for n in range(40)]
    callers = 8
    barrier = threading.Barrier(callers)

    def present(shift: int) -> dict:
        try:
            barrier.wait(timeout=10)
            # Each connection presents every ticket, in its own order.
            return realtime_tickets_redeem(tokens=tokens[shift:] + tokens[:shift])
        finally:
            connection.close()

    with ThreadPoolExecutor(callers) as pool:
        results = list(pool.map(present, [n * 5 for n in range(callers)]))

    winners = [token for result in results for token in result]
    assert sorted(winners) == sorted(tokens)  # every ticket went to exactly one caller


@pytest.mark.django_db(transaction=True)
def test_a_storm_of_handshakes_is_redeemed_in_batches_and_every_socket_opens(resident, monkeypatch):
    batches: list[int] = []
    real = auth._redeem_all

    async def counted(*, tokens):
        batches.append(len(tokens))
        return await real(tokens=tokens)

    monkeypatch.setattr(auth, "_redeem_all", counted)

    async def scenario():
        tickets = [await new_ticket(resident) for _ in range(30)]
        reused = tickets[0]
        opened = await asyncio.gather(*(open_socket(ticket=t) for t in [*tickets, reused]))
        for comm, _, _ in opened:
            await comm.disconnect()
        return [connected for _, connected, _ in opened]

    connected = run(scenario)
    assert connected.count(True) == 30 and connected.count(False) == 1  # the reused ticket
    assert sum(batches) == 31
    assert len(batches) < 31  # several handshakes shared a statement
