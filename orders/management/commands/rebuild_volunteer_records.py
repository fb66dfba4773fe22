"""Recount every volunteer's record (orders held, finished, offers dropped, ratings) from the
orders, offers and ratings: after importing history, or whenever the counts are in doubt.
Safe while the service runs (see `volunteers.services.volunteer_records_rebuild`)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from orders.records import volunteer_records_recount


class Command(BaseCommand):
    help = "Recount every volunteer's record from the orders, offers and ratings."

    def handle(self, *args, **options) -> None:
        count = volunteer_records_recount()
        self.stdout.write(f"Recounted {count} volunteer records.")
