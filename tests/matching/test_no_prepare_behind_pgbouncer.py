"""With DB_PREPARE_THRESHOLD=0 (behind PgBouncer in transaction mode) nothing is prepared on the
server, the matcher's own statement included: the cluster scenario's timer steps failed with
`prepared statement "_pg3_8" does not exist` when a widening's ranking ran on another server
connection than the one it was prepared on."""

from __future__ import annotations

import pytest
from django.db import connection

from matching.services import rank_for_order

pytestmark = pytest.mark.postgres


def _prepared() -> int:
    """The matcher's prepared statements on this connection (the suite itself runs with the
    default threshold, so Django's own statements may be prepared beside them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%ORDER BY n.tier, n.dist, n.id%%'"
        )
        return cursor.fetchone()[0]


def _plan_cache_mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("walk", [False, True])
def test_the_matcher_prepares_nothing_with_the_threshold_off(settings, monkeypatch, accepted, member, walk):
    settings.DB_PREPARE_STATEMENTS = False
    if walk:
        monkeypatch.setattr("matching.candidates.MEMBERS_FIRST_MAX", -1)
    near, far = member("near", 0.001), member("far", 0.02)
    before, mode = _prepared(), _plan_cache_mode()
    for _ in range(3):
        ranked = rank_for_order(accepted(), limit=10)
        assert [r.volunteer_id for r in ranked] == [near.pk, far.pk]
    assert _prepared() == before
    assert _plan_cache_mode() == mode  # no session SET either: it would reach other clients


def test_with_the_threshold_on_the_matcher_prepares_its_statement(settings, accepted, member):
    settings.DB_PREPARE_STATEMENTS = True
    member("near", 0.001)
    before = _prepared()
    rank_for_order(accepted(), limit=10)
    assert _prepared() > before
