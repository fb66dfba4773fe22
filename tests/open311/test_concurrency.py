"""Two first posts for the same new person at the same moment create one resident, not two."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from open311 import services


@pytest.mark.postgres
# serialized_rollback: the seeded categories come back even if an earlier transactional test
# flushed them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_first_posts_for_one_email_create_one_resident(world):
    email = "race@example.com"
    first_inserted = threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = services.resident_for(email=email)[0].pk
                first_inserted.set()
                # Hold the transaction open: the second poster must meet the uncommitted row.
                threading.Event().wait(0.5)
        finally:
            first_inserted.set()
            connection.close()

    def second() -> None:
        try:
            first_inserted.wait(10)
            with transaction.atomic():
                results["second"] = services.resident_for(email=email)[0].pk
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["first"] == results["second"]
    assert get_user_model().objects.filter(email=email).count() == 1
