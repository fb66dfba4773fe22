"""Per-user notification preferences, quiet hours and Web Push subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.models import NotificationPreference, PushSubscription


class PreferenceError(Exception):
    """Invalid input, with per-field messages (→ 400)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields
        super().__init__(fields)


@dataclass(frozen=True)
class Prefs:
    """A person's preferences, with the defaults filled in for people who never saved any."""

    push: bool = True
    email: bool = True
    sms: bool = False
    quiet_start: time | None = None
    quiet_end: time | None = None
    sound: bool = True
    vibrate: bool = True

    @classmethod
    def of(cls, row: NotificationPreference | None) -> Prefs:
        if row is None:
            return cls()
        return cls(row.push, row.email, row.sms, row.quiet_start, row.quiet_end, row.sound, row.vibrate)

    def is_quiet(self, at: datetime) -> bool:
        """Whether `at` (aware) falls in the quiet hours, read in local time; wraps midnight."""
        if self.quiet_start is None or self.quiet_end is None:
            return False
        local = timezone.localtime(at).time().replace(tzinfo=None)
        start, end = self.quiet_start, self.quiet_end
        if start < end:
            return start <= local < end
        return local >= start or local < end

    def quiet_until(self, at: datetime) -> datetime:
        """The end of the quiet period `at` is in (the next local `quiet_end`)."""
        assert self.quiet_end is not None
        local = timezone.localtime(at)
        end = local.replace(hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end


def prefs_for(user_id: int) -> Prefs:
    return Prefs.of(NotificationPreference.objects.filter(user_id=user_id).first())


def prefs_for_many(user_ids: list[int]) -> dict[int, Prefs]:
    rows = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=user_ids)}
    return {uid: Prefs.of(rows.get(uid)) for uid in user_ids}


def _phone_of(user) -> str:
    profile = getattr(user, "resident", None)
    return (getattr(profile, "phone", "") or "").strip()


@transaction.atomic
def preference_update(*, user, data: dict[str, Any]) -> NotificationPreference:
    """Change some of the caller's preferences (a PATCH: absent keys stay as they are).

    Checks the result as a whole: quiet hours need both ends and cannot be empty, text
    messages need a phone number on the profile. One row per user (OneToOne + row lock), so
    two PATCHes at once apply one after the other."""
    NotificationPreference.objects.get_or_create(user=user)
    row = NotificationPreference.objects.select_for_update().get(user=user)
    for key in ("push", "email", "sms", "quiet_start", "quiet_end", "sound", "vibrate"):
        if key in data:
            setattr(row, key, data[key])
    errors: dict[str, list[str]] = {}
    if (row.quiet_start is None) != (row.quiet_end is None):
        missing = "quiet_end" if row.quiet_end is None else "quiet_start"
        errors[missing] = [_("Give both the start and the end of the quiet hours, or neither.")]
    elif row.quiet_start is not None and row.quiet_start == row.quiet_end:
        errors["quiet_end"] = [_("The quiet hours must not start and end at the same time.")]
    if row.sms and "sms" in data and not _phone_of(user):
        errors["sms"] = [_("Add a phone number to your profile before turning on text messages.")]
    if errors:
        raise PreferenceError(errors)
    row.save()
    return row


@transaction.atomic
def push_subscription_save(*, user, endpoint: str, p256dh: str, auth: str, user_agent: str = "") -> PushSubscription:
    """Register (or refresh) a Web Push endpoint for the caller.

    An endpoint belongs to one browser; if another account used it before on the same device,
    it now belongs to the caller (the previous account must not get their pushes)."""
    sub, _created = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={"user": user, "p256dh": p256dh, "auth": auth, "user_agent": user_agent[:200]},
    )
    return sub


def push_subscription_delete(*, user, endpoint: str) -> int:
    """Forget one of the caller's endpoints; someone else's matches nothing."""
    deleted, _details = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return deleted
