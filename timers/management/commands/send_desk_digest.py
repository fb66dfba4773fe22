"""`manage.py send_desk_digest`: email each desk its daily figures now (cron or by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from timers.digest import desk_digest_send


class Command(BaseCommand):
    help = "Email every secretary and staff member the digest of their desks."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = desk_digest_send()
        self.stdout.write(f"desk digest: {sent} emails sent")
