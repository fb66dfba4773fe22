"""What the WebSocket needs from the database: tickets, the cursor, resume, retention.

The consumer (sockets/consumers.py) stays thin and calls these through
`database_sync_to_async`; each function is one short query or one conditional UPDATE.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from notifications.models import Event, RealtimeTicket

# A ticket longer than this is not one of ours; refuse it before hashing.
_MAX_TICKET_LENGTH = 128


def retention() -> timedelta:
    return timedelta(days=settings.REALTIME["RETENTION_DAYS"])


def _digest(token: str) -> str:
    # Only the hash is stored: a leaked table row cannot be turned into a working ticket.
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def realtime_ticket_issue(*, user) -> tuple[str, RealtimeTicket]:
    """A single-use credential for `/ws/?ticket=…`, valid for REALTIME["TICKET_SECONDS"].

    Returns (token, ticket); the token is shown once and only its SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    ticket = RealtimeTicket.objects.create(
        key=_digest(token),
        user=user,
        expires_at=timezone.now() + timedelta(seconds=settings.REALTIME["TICKET_SECONDS"]),
    )
    return token, ticket


def realtime_ticket_redeem(*, token: str):
    """The user a ticket was issued to, or None if it is unknown, expired or already used."""
    return realtime_tickets_redeem(tokens=[token]).get(token)


def realtime_tickets_redeem(*, tokens: list[str]) -> dict[str, Any]:
    """The users of the tickets that are valid, by token; each ticket is spent.

    Several at once because a storm of phones reconnecting is made of handshakes arriving
    together: one UPDATE and one read for all of them instead of two statements each.
    Single use under concurrency: the conditional UPDATE (`used_at IS NULL AND expires_at >
    now`) matches a ticket for exactly one of two sockets presenting it at once, and RETURNING
    says which tickets this statement spent (another process may have spent the rest). A token
    given twice in one call is spent once: the first copy of it gets the user."""
    keys: dict[str, str] = {}
    for token in tokens:
        if token and len(token) <= _MAX_TICKET_LENGTH:
            keys.setdefault(_digest(token), token)
    if not keys:
        return {}
    table = connection.ops.quote_name(RealtimeTicket._meta.db_table)
    marks = ", ".join(["%s"] * len(keys))
    now = connection.ops.adapt_datetimefield_value(timezone.now())  # as the ORM would store it
    with connection.cursor() as cursor:
        # RETURNING is PostgreSQL's and SQLite's (3.35+), the two databases Sandan runs on.
        cursor.execute(
            f"UPDATE {table} SET used_at = %s WHERE key IN ({marks}) AND used_at IS NULL AND expires_at > %s"  # noqa: S608 - only our table's name and placeholders go in
            " RETURNING key, user_id",
            [now, *keys, now],
        )
        spent = cursor.fetchall()
    users = get_user_model().objects.filter(is_active=True).in_bulk({user_id for _, user_id in spent})
    return {keys[key]: users[user_id] for key, user_id in spent if user_id in users}


_cursor_cache: tuple[float, int] = (0.0, 0)
# How long a read cursor is reused: a storm of handshakes then costs one query a second.
CURSOR_CACHE_SECONDS = 1.0


def cached_cursor() -> int | None:
    """The cursor without a database trip if one was read within the last second, else None."""
    read_at, value = _cursor_cache
    return value if time.monotonic() - read_at <= CURSOR_CACHE_SECONDS else None


def current_cursor(*, fresh: bool = False) -> int:
    """The outbox's high-water mark: the id a client starts from.

    Global, not per user, on purpose: a quiet user who reconnects after a day then holds a
    recent cursor and is not sent `resync` just because their own last event is old. A cursor
    up to a second old is as good: it can only be lower than the true one, so a later resume
    from it replays a few events the phone may already have (it drops them by id), and never
    skips one; anything newer than the read reaches the socket live, as it is subscribed first.
    """
    global _cursor_cache
    now = time.monotonic()
    read_at, value = _cursor_cache
    if fresh or now - read_at > CURSOR_CACHE_SECONDS:
        # Several threads may refresh at once; each writes a value that is correct when read.
        value = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        _cursor_cache = (now, value)
    return value


@dataclass
class Resume:
    frames: list[dict[str, Any]] = field(default_factory=list)
    resync: bool = False
    reason: str = ""
    cursor: int = 0
    # The recipient's recent ids at or below `after` that are not replayed because the client has
    # them (pushed well before its last one, or that one itself): a live copy of one of them
    # arriving later (a row pushed twice, the relay racing a slow push while Redis was away) is
    # a duplicate, and the socket drops it as it drops a live copy of a replayed row.
    delivered: list[int] = field(default_factory=list)


def events_after(*, user_id: int, after: int) -> Resume:
    """Every event of `user_id` with an id above `after`, in id order; or a resync.

    Resync when the gap reaches behind the retention window (the first missed event, or the
    client's own last id, is older than the retention or already pruned) or when it is too
    long to replay. Ids grow with time, so the row at or just below `after` tells when the
    client was last in touch. Reads committed rows only; a later commit is pushed live."""
    limit = settings.REALTIME["RESUME_MAX_EVENTS"]
    cutoff = timezone.now() - retention()
    rows = list(Event.objects.filter(recipient_id=user_id, id__gt=after).order_by("id")[: limit + 1])
    delivered: list[int] = []
    if after > 0:
        late, delivered = _pushed_after_the_last(user_id, after, limit)
        rows = late + rows
    cursor = current_cursor(fresh=True)
    if rows and rows[0].created_at < cutoff:
        return Resume(resync=True, reason="retention", cursor=cursor)
    if after > 0:
        # The client's last id, or the nearest row below it, dates when it was last in touch.
        # Gone (pruned) or older than the retention: rows after it may have been pruned too.
        anchor = Event.objects.filter(id__lte=after).order_by("-id").values_list("created_at", flat=True).first()
        if anchor is None or anchor < cutoff:
            return Resume(resync=True, reason="retention", cursor=cursor)
    if len(rows) > limit:
        return Resume(resync=True, reason="too_many", cursor=cursor)
    return Resume(
        frames=[e.as_frame() for e in rows], cursor=max(cursor, rows[-1].pk if rows else 0), delivered=delivered
    )


def _pushed_after_the_last(user_id: int, after: int, limit: int) -> tuple[list[Event], list[int]]:
    """The recipient's events below `after` that were pushed after it: the client may have
    missed them, though its last id is higher. And the ids of the recent ones it has (the rest
    of those read, and `after` itself).

    Ids are handed out when a row is inserted, but rows commit, and are pushed, in another
    order: a dispatch's transaction that waits on a lock commits its lower id after a claim's
    higher one, an after-commit push dies with its process and the relay sends the row two
    seconds later, and the pushes of two processes race. A phone that saw the higher id and then
    lost its socket (its host died, a Redis shard restarted) would resume after it and never get
    the lower one; found by the cluster scenario (bench/cluster.py). So resume also replays
    the rows below `after` marked pushed after the client's last row was, which are the only
    ones it can have missed (anything that commits later reaches the new socket live, as it is
    subscribed before this read). It may replay a few the client already has; it drops them by
    id, as it must anyway. Nothing is replayed when `after` is not one of the recipient's own
    rows (a `hello` cursor): nothing then tells when the client was last sent something.

    `pushed_at` is written after the push, by the process that pushed, so it only roughly
    orders pushes: a row not yet marked may already have gone to a host that then died, and
    two processes' marks can come in the other order from their pushes. Unmarked rows are
    therefore replayed too, and so are rows marked up to `_MARK_SKEW` before the last one
    (found by the cluster scenario under load: a row pushed just before the phone's last one
    to a host that died before sending it, marked 0.1 s after that last one's mark)."""
    last = Event.objects.filter(recipient_id=user_id, id=after).values_list("pushed_at", "created_at").first()
    if last is None:
        return [], []
    pushed_at, created_at = last
    since = (pushed_at or created_at) - _MARK_SKEW
    # Only the recipient's latest rows below `after` (its index, read backwards): rows are
    # reordered within seconds, not across hundreds of a person's own events.
    recent = Event.objects.filter(recipient_id=user_id, id__lt=after).order_by("-id")[:_LATE_WINDOW]
    late: list[Event] = []
    delivered = [after]
    for e in recent:
        if e.pushed_at is None or e.pushed_at > since:
            late.append(e)
        elif len(delivered) < _DELIVERED_KEPT:
            delivered.append(e.pk)
    return sorted(late, key=lambda e: e.pk)[:limit], delivered


_LATE_WINDOW = 200
# How far apart the marks of two pushes may fall from the order of the pushes themselves: a
# reconnecting phone is sent again what was pushed in the few seconds before its last event.
_MARK_SKEW = timedelta(seconds=2)
# How many of the ids the client has a socket remembers after a resume (the latest): a row is
# pushed twice within seconds, and every id costs the socket's memory.
_DELIVERED_KEPT = 32


def events_prune(*, now=None) -> int:
    """Delete outbox rows older than the retention (clients that far behind get `resync`)."""
    cutoff = (now or timezone.now()) - retention()
    deleted, _ = Event.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def realtime_tickets_prune(*, now=None) -> int:
    """Delete tickets that expired more than an hour ago (kept that long for inspection)."""
    cutoff = (now or timezone.now()) - timedelta(hours=1)
    deleted, _ = RealtimeTicket.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
