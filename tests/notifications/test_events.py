"""What each person's socket receives as an order moves, and what it must never receive."""

from __future__ import annotations

import pytest
from django.db import transaction

from notifications.events import call_holding_pushes, publish
from notifications.models import Event
from orders import services
from tests.notifications.conftest import db, drain, drain_until, kinds, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAL = ("address", "contact_phone", "lat", "lng")


def _flat(frame) -> str:
    import json

    return json.dumps(frame, ensure_ascii=False)


def test_desk_and_resident_follow_a_new_order_live(submit, resident, secretary, other_secretary):
    async def scenario():
        desk, _, _ = await open_socket(secretary)
        home, _, _ = await open_socket(resident)
        elsewhere, _, _ = await open_socket(other_secretary)
        order = await db(submit)()
        desk_frames = await drain(desk)
        assert kinds(desk_frames) == ["order.updated", "desk.new_order"]
        assert desk_frames[1]["payload"]["order"]["address"] == resident.resident.address
        assert kinds(await drain(home)) == ["order.updated"]
        await db(services.order_accept)(order_id=order.pk, user=secretary)
        home_frames = await drain(home)
        assert kinds(home_frames) == ["order.updated", "order.notice"]
        assert home_frames[0]["payload"]["event"]["action"] == "accept"
        assert home_frames[1]["payload"] == {"order": order.pk, "action": "accept", "status": "accepted"}
        # Another branch's desk hears nothing about this order.
        assert await elsewhere.receive_nothing(timeout=0.2)
        for comm in (desk, home, elsewhere):
            await comm.disconnect()

    run(scenario)


def test_pool_offer_reaches_only_the_offered_volunteers_without_personal_data(
    submit, advance, secretary, resident, volunteer, volunteer2, outsider_volunteer
):
    async def scenario():
        order = await db(advance)(await db(submit)(), "accepted")
        phones = {u.username: (await open_socket(u))[0] for u in (volunteer, volunteer2, outsider_volunteer)}
        await db(services.order_dispatch)(
            order_id=order.pk,
            user=secretary,
            mode="pool",
            volunteers=[volunteer.volunteer.pk, volunteer2.volunteer.pk],
        )
        for name in ("volunteer", "volunteer2"):
            frames = await drain(phones[name])
            assert kinds(frames) == ["offer.new"]
            offer = frames[0]["payload"]
            assert offer["order"] == order.pk and offer["area"] == "North grid"
            assert offer["distance_m"] % 100 == 0
            assert not set(PERSONAL) & set(offer)
            assert resident.resident.address not in _flat(frames) and resident.resident.phone not in _flat(frames)
        # An outsider never receives an offer for an order not offered to them.
        assert await phones["outsider_volunteer"].receive_nothing(timeout=0.2)
        for comm in phones.values():
            await comm.disconnect()

    run(scenario)


def test_claim_over_the_socket_gives_the_winner_the_address_and_the_loser_a_withdrawal(
    submit, advance, secretary, resident, volunteer, volunteer2
):
    async def scenario():
        order = await db(advance)(await db(submit)(), "accepted")
        winner, _, _ = await open_socket(volunteer)
        loser, _, _ = await open_socket(volunteer2)
        await db(services.order_dispatch)(
            order_id=order.pk, user=secretary, mode="pool", volunteers=[volunteer.volunteer.pk, volunteer2.volunteer.pk]
        )
        # Each waits for its offer, then the claim's reply (sent as soon as it commits): a
        # loaded machine may take longer than drain's quiet period to answer.
        await drain(winner, 1)
        await drain(loser, 1)
        await winner.send_json_to({"type": "claim", "order": order.pk, "ref": "tap-1"})
        frames = await drain_until(winner, "claim.result", "order.assigned")
        result = next(f for f in frames if f["type"] == "claim.result")
        assert result == {"type": "claim.result", "ref": "tap-1", "order": order.pk, "ok": True, "code": None}
        assigned = next(f for f in frames if f.get("kind") == "order.assigned")
        assert assigned["payload"]["order"]["address"] == resident.resident.address
        assert assigned["payload"]["order"]["contact_phone"] == resident.resident.phone
        loser_frames = await drain(loser, 1)
        assert kinds(loser_frames) == ["offer.withdrawn"]
        assert loser_frames[0]["payload"] == {"order": order.pk}
        assert resident.resident.phone not in _flat(loser_frames)
        # The late tap is told why, and still learns nothing personal.
        await loser.send_json_to({"type": "claim", "order": order.pk, "ref": 7})
        late = await drain(loser, 1)
        assert late == [{"type": "claim.result", "ref": 7, "order": order.pk, "ok": False, "code": "already_claimed"}]
        await winner.disconnect()
        await loser.disconnect()

    run(scenario)


def test_claim_by_someone_never_offered_is_refused_without_details(
    submit, advance, resident, outsider_volunteer, outsider
):
    async def scenario():
        order = await db(advance)(await db(submit)(), "dispatched")
        for user in (outsider_volunteer, outsider):
            comm, _, _ = await open_socket(user)
            await comm.send_json_to({"type": "claim", "order": order.pk, "ref": "x"})
            frames = await drain(comm)
            assert frames == [{"type": "claim.result", "ref": "x", "order": order.pk, "ok": False, "code": "not_found"}]
            await comm.disconnect()

    run(scenario)


def test_recall_withdraws_the_offer_from_the_phone(submit, advance, secretary, volunteer):
    async def scenario():
        order = await db(advance)(await db(submit)(), "dispatched")
        phone, _, _ = await open_socket(volunteer)
        await db(services.order_recall)(order_id=order.pk, user=secretary, reason="Wrong category")
        assert kinds(await drain(phone)) == ["offer.withdrawn"]
        await phone.disconnect()

    run(scenario)


def test_release_tells_the_volunteer_and_reoffers(submit, advance, secretary, volunteer, volunteer2):
    async def scenario():
        order = await db(advance)(await db(submit)(), "claimed")
        phone, _, _ = await open_socket(volunteer)
        other, _, _ = await open_socket(volunteer2)
        desk, _, _ = await open_socket(secretary)
        await db(services.order_release)(order_id=order.pk, user=volunteer, reason="Car broke down")
        frames = await drain(phone)
        assert "order.released" in kinds(frames)
        # After release the volunteer no longer receives the order's personal data.
        updates = [f for f in frames if f.get("kind") == "order.updated"]
        assert all(f["payload"]["order"]["volunteer"] is not None for f in updates)
        # The cascade offers it to the next ranked volunteer.
        assert "offer.new" in kinds(await drain(other))
        assert "order.updated" in kinds(await drain(desk))
        for comm in (phone, other, desk):
            await comm.disconnect()

    run(scenario)


def test_the_timeline_reaches_the_assigned_volunteer_until_completion(submit, advance, resident, volunteer):
    async def scenario():
        order = await db(advance)(await db(submit)(), "claimed")
        phone, _, _ = await open_socket(volunteer)
        home, _, _ = await open_socket(resident)
        await db(services.order_start)(order_id=order.pk, user=volunteer)
        assert kinds(await drain(phone)) == ["order.updated"]
        assert kinds(await drain(home)) == ["order.updated", "order.notice"]
        await phone.disconnect()
        await home.disconnect()

    run(scenario)


def test_a_rolled_back_change_sends_nothing(submit, advance, secretary, volunteer, django_capture_on_commit_callbacks):
    order = advance(submit(), "accepted")
    before = Event.objects.count()

    async def scenario():
        phone, _, _ = await open_socket(volunteer)
        desk, _, _ = await open_socket(secretary)

        def dispatch_then_fail():
            with (
                django_capture_on_commit_callbacks(execute=True) as callbacks,
                pytest.raises(RuntimeError),
                transaction.atomic(),
            ):
                services.order_dispatch(
                    order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk
                )
                raise RuntimeError("the request failed after the dispatch")
            return callbacks

        assert await db(dispatch_then_fail)() == []
        assert await phone.receive_nothing(timeout=0.3)
        assert await desk.receive_nothing(timeout=0.1)
        await phone.disconnect()
        await desk.disconnect()

    run(scenario)
    assert Event.objects.count() == before


def test_an_offer_carrying_personal_data_is_refused_before_it_is_written(volunteer):
    with pytest.raises(ValueError, match="personal data"):
        publish(recipients=[volunteer.pk], kind="offer.new", payload={"order": 1, "detail": {"contact_phone": "1"}})
    assert not Event.objects.exists()


def test_a_held_push_is_sent_only_when_the_caller_runs_it(volunteer):
    def change() -> list[Event]:
        with transaction.atomic():
            return publish(recipients=[volunteer.pk], kind="order.notice", payload={"order": 1})

    async def scenario():
        sock, _, _ = await open_socket(volunteer)
        events, push = await db(call_holding_pushes)(change)
        assert await sock.receive_nothing()  # committed, not pushed yet
        assert await db(lambda: Event.objects.get(pk=events[0].pk).pushed_at)() is None
        await db(push)()
        frames = await drain(sock)
        assert [f["id"] for f in frames] == [events[0].pk]
        assert await db(lambda: Event.objects.get(pk=events[0].pk).pushed_at)() is not None
        await sock.disconnect()

    run(scenario)
