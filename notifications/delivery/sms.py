"""SMS senders, for residents without smartphones. The backend is chosen by `SMS_BACKEND`.

A real gateway implements `SmsBackend.send`; the console backend (the default) writes the
message to the log with the number masked, so that the demo shows what would be sent
without putting a resident's phone number in a log line.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("sandan.sms")


class SmsError(Exception):
    """The gateway refused or could not be reached; the delivery is retried."""


class SmsBackend:
    def send(self, *, phone: str, text: str) -> None:
        raise NotImplementedError


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    return digits[:3] + "*" * max(len(digits) - 7, 0) + digits[-4:] if len(digits) > 7 else "***"


class ConsoleSmsBackend(SmsBackend):
    def send(self, *, phone: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_phone(phone), text)


class LocmemSmsBackend(SmsBackend):
    """Keeps sent messages in `outbox` (tests), like Django's locmem email backend."""

    outbox: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> None:
        LocmemSmsBackend.outbox.append((phone, text))


def get_sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()


def sms_send(*, phone: str, text: str) -> None:
    get_sms_backend().send(phone=phone, text=text[:500])
