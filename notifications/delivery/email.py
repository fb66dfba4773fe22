"""Email through Django's mail framework (console backend in the demo)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail


def email_send(*, to: str, subject: str, body: str) -> None:
    """Send one plain-text email. Raises on a backend failure (the delivery is retried)."""
    # One line: a header with a newline is refused by Django (header injection).
    subject = " ".join(subject.split())[:200]
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)
