"""The socket's own protocol: resume, resync, location, relay, and what bad frames get."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from notifications import events as events_module
from notifications.events import relay_unpushed
from notifications.models import Event
from orders import services
from tests.notifications.conftest import db, drain, kinds, open_socket, run
from volunteers.models import LocationPing, Volunteer

pytestmark = pytest.mark.django_db(transaction=True)


def test_resume_replays_every_later_event_in_order_without_duplicates(submit, advance, secretary, resident):
    async def scenario():
        home, _, hello = await open_socket(resident)
        order = await db(submit)()
        live = await drain(home, 1)
        seen = live[0]["id"]  # the phone saw the first event, then lost its connection
        await home.disconnect()
        await db(services.order_accept)(order_id=order.pk, user=secretary)
        await db(services.order_cancel)(order_id=order.pk, user=resident, reason="Sorted it myself")

        home, _, _ = await open_socket(resident)
        await home.send_json_to({"type": "resume", "after": seen})
        frames = await drain(home, 4)
        replay = [f for f in frames if f["type"] == "event"]
        expected = await db(
            lambda: list(
                Event.objects.filter(recipient=resident, id__gt=seen).order_by("id").values_list("id", flat=True)
            )
        )()
        assert [f["id"] for f in replay] == expected
        assert kinds(replay) == ["order.updated", "order.notice", "order.updated"]
        assert frames[-1] == {"type": "resumed", "after": seen, "count": 3, "cursor": frames[-1]["cursor"]}
        # A second resume from the same point replays the same events, still in order.
        await home.send_json_to({"type": "resume", "after": replay[0]["id"]})
        again = [f["id"] for f in await drain(home, 1) if f["type"] == "event"]
        # Nothing already sent on this socket is sent twice; the first event, pushed just before
        # (notifications.realtime._MARK_SKEW) and sent on the old socket, may come again.
        assert not set(again) & {f["id"] for f in replay}
        assert set(again) <= {seen}
        await home.disconnect()
        return hello

    run(scenario)


def test_live_events_arriving_during_a_resume_are_held_and_not_sent_twice(submit, secretary, resident, monkeypatch):
    from sockets import consumers

    order = submit()
    real_events_after = consumers.events_after

    def accept_while_resuming(**kwargs):
        # The accept commits and is pushed while this socket is busy replaying: its live copies
        # wait in the socket's queue and must not reach the phone a second time.
        services.order_accept(order_id=order.pk, user=secretary)
        return real_events_after(**kwargs)

    monkeypatch.setattr(consumers, "events_after", accept_while_resuming)

    async def scenario():
        home, _, _ = await open_socket(resident)
        await home.send_json_to({"type": "resume", "after": 0})
        frames = await drain(home, 4)
        await home.disconnect()
        return frames

    frames = run(scenario)
    assert [f["type"] for f in frames] == ["event", "event", "event", "resumed"]
    ids = [f["id"] for f in frames[:3]]
    assert ids == sorted(set(ids))
    assert kinds(frames[:3]) == ["order.updated", "order.updated", "order.notice"]


def test_after_in_the_url_replays_before_anything_live(submit, secretary, resident):
    order = submit()
    services.order_accept(order_id=order.pk, user=secretary)
    first = Event.objects.filter(recipient=resident).order_by("id").first().pk

    async def scenario():
        home, _, _ = await open_socket(resident, query=f"after={first}")
        frames = await drain(home, 3)
        await home.disconnect()
        return frames

    frames = run(scenario)
    assert [f["type"] for f in frames] == ["event", "event", "resumed"]
    assert kinds(frames[:2]) == ["order.updated", "order.notice"]


def test_resume_from_beyond_the_retention_gets_resync(submit, resident):
    async def scenario():
        order = await db(submit)()
        old = timezone.now() - timedelta(days=8)
        await db(lambda: Event.objects.filter(order=order).update(created_at=old))()
        home, _, _ = await open_socket(resident)
        await home.send_json_to({"type": "resume", "after": 0})
        frames = await drain(home, 1)
        assert [f["type"] for f in frames] == ["resync"]
        assert frames[0]["reason"] == "retention"
        await home.disconnect()

    run(scenario)


def test_resume_after_pruned_events_gets_resync(submit, resident, secretary):
    from notifications.realtime import events_prune

    async def scenario():
        order = await db(submit)()
        first = await db(lambda: Event.objects.order_by("id").first().pk)()
        await db(services.order_accept)(order_id=order.pk, user=secretary)
        await db(
            lambda: Event.objects.filter(pk__lte=first + 1).update(created_at=timezone.now() - timedelta(days=8))
        )()
        assert await db(events_prune)() >= 2
        home, _, _ = await open_socket(resident)
        await home.send_json_to({"type": "resume", "after": first})
        assert [f["type"] for f in await drain(home, 1)] == ["resync"]
        await home.disconnect()

    run(scenario)


def test_bad_frames_get_error_frames_and_the_socket_stays_open(resident):
    async def scenario():
        comm, _, _ = await open_socket(resident)
        cases = [
            ("not json", "bad_json"),
            ("[1, 2]", "bad_frame"),
            ('{"no": "type"}', "unknown_type"),
            ('{"type": "launch_missiles"}', "unknown_type"),
            ('{"type": 5}', "unknown_type"),
            ('{"type": "resume"}', "invalid"),
            ('{"type": "resume", "after": "12"}', "invalid"),
            ('{"type": "resume", "after": -1}', "invalid"),
            ('{"type": "resume", "after": true}', "invalid"),
            ('{"type": "claim", "ref": "a"}', "invalid"),
            ('{"type": "claim", "order": 1}', "invalid"),
            ('{"type": "claim", "order": 1, "ref": {"x": 1}}', "invalid"),
            ('{"type": "location", "lat": "north"}', "invalid"),
            ('{"type": "location", "lat": 1e999, "lng": 1}', "invalid"),
            ('{"type": "ping", "pad": "' + "x" * 5000 + '"}', "too_large"),
        ]
        for text, code in cases:
            await comm.send_to(text_data=text)
            frame = await comm.receive_json_from(timeout=5)
            assert frame["type"] == "error" and frame["code"] == code, (text[:40], frame)
        await comm.send_to(bytes_data=b"\x00\x01")
        assert (await comm.receive_json_from(timeout=10))["code"] == "bad_frame"
        await comm.send_json_to({"type": "ping", "ref": 1})
        assert await comm.receive_json_from(timeout=10) == {"type": "pong", "ref": 1}
        await comm.disconnect()

    run(scenario)


def test_a_flood_is_told_to_slow_down_then_closed_and_other_sockets_carry_on(resident, secretary):
    async def scenario():
        flood, _, _ = await open_socket(resident)
        calm, _, _ = await open_socket(secretary)
        for _ in range(150):
            await flood.send_json_to({"type": "ping"})
        frames = []
        while True:
            out = await flood.receive_output(timeout=5)
            if out["type"] == "websocket.close":
                assert out["code"] == 4008
                break
            frames.append(out)
        import json

        codes = [json.loads(f["text"]).get("code") for f in frames]
        assert "rate_limited" in codes
        await calm.send_json_to({"type": "ping"})
        assert (await calm.receive_json_from(timeout=10))["type"] == "pong"
        await calm.disconnect()

    run(scenario)


def test_location_is_stored_for_on_duty_volunteers_only_and_rate_limited(volunteer, volunteer2, resident):
    async def scenario():
        phone, _, _ = await open_socket(volunteer)
        await phone.send_json_to({"type": "location", "lat": 31.2311, "lng": 121.4711, "accuracy": 12})
        await phone.send_json_to({"type": "ping"})
        assert (await phone.receive_json_from(timeout=10))["type"] == "pong"  # stored, nothing else said
        await phone.send_json_to({"type": "location", "lat": 31.2312, "lng": 121.4712})
        assert (await phone.receive_json_from(timeout=10))["code"] == "rate_limited"
        await phone.send_json_to({"type": "ping"})
        await phone.receive_json_from(timeout=10)
        await phone.disconnect()

        # A second socket of the same volunteer cannot get around the limit: the service holds it.
        again, _, _ = await open_socket(volunteer)
        await again.send_json_to({"type": "location", "lat": 31.2313, "lng": 121.4713})
        assert (await again.receive_json_from(timeout=10))["code"] == "rate_limited"
        await again.disconnect()

        await db(lambda: Volunteer.objects.filter(user=volunteer2).update(on_duty=False))()
        off_duty, _, _ = await open_socket(volunteer2)
        await off_duty.send_json_to({"type": "location", "lat": 31.23, "lng": 121.47})
        assert (await off_duty.receive_json_from(timeout=10))["code"] == "not_permitted"
        await off_duty.disconnect()

        home, _, _ = await open_socket(resident)
        await home.send_json_to({"type": "location", "lat": 31.23, "lng": 121.47})
        assert (await home.receive_json_from(timeout=10))["code"] == "not_permitted"
        await home.send_json_to({"type": "location", "lat": 95, "lng": 121.47})
        home_frame = await home.receive_json_from(timeout=10)
        await home.disconnect()
        return home_frame

    out_of_range = run(scenario)
    assert out_of_range == {"type": "error", "code": "rate_limited", "detail": out_of_range["detail"]}
    pings = list(LocationPing.objects.all())
    assert [(p.volunteer.user_id, p.lat, p.lng, p.accuracy_m) for p in pings] == [(volunteer.pk, 31.2311, 121.4711, 12)]
    v = Volunteer.objects.get(user=volunteer)
    assert (v.live_lat, v.live_lng) == (31.2311, 121.4711) and v.live_at == pings[0].at
    assert Volunteer.objects.get(user=volunteer2).live_lat is None


def test_events_whose_push_failed_are_relayed_once(submit, secretary, resident, monkeypatch):
    class Down:
        async def group_send(self, group, message):
            raise ConnectionError("redis is down")

    async def scenario():
        home, _, _ = await open_socket(resident)
        with monkeypatch.context() as m:
            m.setattr(events_module, "get_channel_layer", lambda: Down())
            order = await db(submit)()
        assert await home.receive_nothing(timeout=0.3)
        unpushed = await db(lambda: Event.objects.filter(recipient=resident, pushed_at__isnull=True).count())()
        assert unpushed == 1
        assert await db(relay_unpushed)(older_than_seconds=0) >= 1
        frames = await drain(home, 1)
        assert kinds(frames) == ["order.updated"] and frames[0]["payload"]["order"]["id"] == order.pk
        # A second pass finds nothing left to push.
        await db(call_command)("relay_events", "--once")
        assert await home.receive_nothing(timeout=0.3)
        await home.disconnect()

    run(scenario)
    assert not Event.objects.filter(pushed_at__isnull=True).exists()


def test_one_transaction_pushes_its_events_together_and_a_rolled_back_savepoint_sends_nothing(resident):
    from django.db import transaction

    from notifications.events import publish

    def change():
        with transaction.atomic():
            publish(recipients=[resident.pk], kind="order.notice", payload={"n": 1})
            try:
                with transaction.atomic():
                    publish(recipients=[resident.pk], kind="order.notice", payload={"n": 2})
                    raise RuntimeError("this part fails")
            except RuntimeError:
                pass
            publish(recipients=[resident.pk], kind="order.notice", payload={"n": 3})

    async def scenario():
        home, _, _ = await open_socket(resident)
        await db(change)()
        frames = await drain(home, 2)
        await home.disconnect()
        return frames

    frames = run(scenario)
    assert [f["payload"]["n"] for f in frames] == [1, 3]
    assert frames[0]["id"] < frames[1]["id"]
    assert not Event.objects.filter(pushed_at__isnull=True).exists()


def test_after_a_resume_a_second_push_of_a_row_the_phone_has_is_not_sent_again(resident):
    """A row can be pushed twice (the relay racing a slow push while Redis was away); a phone
    that had it and then reconnected must not get it again live: the resume tells the socket
    which recent rows the phone has."""
    from notifications.events import publish, push_events

    now = timezone.now()
    had = Event.objects.create(
        recipient=resident, kind="order.notice", payload={"n": 1}, pushed_at=now - timedelta(seconds=60)
    )
    last = Event.objects.create(
        recipient=resident, kind="order.notice", payload={"n": 2}, pushed_at=now - timedelta(seconds=30)
    )

    async def scenario():
        phone, _, _ = await open_socket(resident, query=f"after={last.pk}")
        resumed = await drain(phone, 1)
        # The same row pushed a second time, as the relay does with a row still unmarked.
        await db(lambda: Event.objects.filter(pk=had.pk).update(pushed_at=None))()
        await db(push_events)([had.pk])
        await db(publish)(recipients=[resident.pk], kind="order.notice", payload={"n": 3})
        frames = await drain(phone, 1)
        await phone.disconnect()
        return resumed, frames

    resumed, frames = run(scenario)
    assert [f["type"] for f in resumed] == ["resumed"] and resumed[0]["count"] == 0
    assert [f["payload"] for f in frames if f["type"] == "event"] == [{"n": 3}]
