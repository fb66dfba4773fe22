"""The same need reported twice: "already reported nearby?" with "this is mine too" (+1),
what a follower may and may not see, the desk's likely duplicates and merging them, and the
figures counting a merged need once (the races are in test_merge_race.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from notifications.models import Event, Notification
from orders import services
from orders.duplicates import similarity, tokens
from orders.models import Order, OrderEvent, OrderFollower
from stats.figures import Cohort, figures
from tests.factories import BASE_LAT, BASE_LNG, ResidentProfileFactory
from tests.orders.conftest import SECRET_ADDRESS, SECRET_PHONE, leaks
from tests.orders.duplicate_pairs import pairs, precision_recall

pytestmark = pytest.mark.django_db


def said(text: str) -> set[str]:
    """`text` as a notification may carry it: stored in the language active when it was sent."""
    from django.utils.translation import gettext, override

    found = set()
    for language in ("en", "zh-hans"):
        with override(language):
            found.add(gettext(text))
    return found


# About 150 m north of the resident's home, well inside SANDAN_NEARBY_METRES (300).
NEAR_LAT = BASE_LAT + 0.0013


@pytest.fixture
def neighbour(world):
    """A second resident of the north grid, next door to `resident`."""
    return ResidentProfileFactory(user__username="neighbour", grid=world.north, lat=NEAR_LAT, lng=BASE_LNG).user


def nearby(api, user, **params):
    query = {"category": "repair", "lat": NEAR_LAT, "lng": BASE_LNG, **params}
    return api(user).get("/api/v1/orders/nearby", query)


# --- text similarity ---------------------------------------------------------------------------


def test_similarity_finds_the_synthetic_duplicates(settings):
    """Precision and recall at the configured threshold on 400 labelled pairs (half of them
    the same need in other words): the desk is shown most duplicates, and most of what it is
    shown is one. bench/duplicates.py prints every threshold, and jieba's figures beside them."""
    threshold = settings.SANDAN["DUPLICATE_SIMILARITY"]
    scores = [(similarity(a, b), same) for a, b, same in pairs(400)]
    precision, recall = precision_recall(scores, threshold)
    print(f"\nthreshold {threshold}: precision {precision:.3f}, recall {recall:.3f} on {len(scores)} pairs")
    assert precision >= 0.75 and recall >= 0.7


def test_tokens_cut_chinese_into_characters_and_pairs_and_drop_the_pleasantries():
    assert tokens("您好，水龙头漏水！谢谢") == {"水龙", "龙头", "头漏", "漏水", "水", "龙", "头", "漏"}
    assert tokens("Leaking TAP, please") == {"leaking", "tap", "please"}
    assert similarity("厨房水龙头漏水", "水龙头一直在漏水") > similarity("厨房水龙头漏水", "客厅的灯不亮了")
    assert similarity("", "水龙头漏水") == 0.0


# --- "already reported nearby?" and "this is mine too" --------------------------------------------


def test_a_neighbour_sees_the_open_request_nearby_without_personal_data(api, new_order, neighbour):
    order = new_order(category="repair", description=f"水龙头漏水，电话 {SECRET_PHONE}，住 {SECRET_ADDRESS}")
    response = nearby(api, neighbour, text="我家水龙头也漏水")
    assert response.status_code == 200
    assert [row["id"] for row in response.data] == [order.pk]
    row = response.data[0]
    assert row["area"] == "North grid" and row["followers"] == 0 and row["following"] is False
    assert row["distance_m"] in {100, 200}  # rounded to 100 m, as offers are
    assert "水龙头漏水" in row["description"]
    assert leaks(response.data) == []
    assert set(row) == {"id", "category", "area", "description", "created_at", "distance_m", "followers", "following"}


def test_nearby_leaves_out_other_categories_far_away_closed_and_own_requests(
    api, new_order, neighbour, other_resident, reach
):
    new_order(category="errands")  # another category
    new_order(user=other_resident, category="repair")  # 2 km south
    reach(new_order(category="repair"), "rejected")  # no longer open
    new_order(user=neighbour, category="repair", lat=NEAR_LAT, lng=BASE_LNG)  # their own
    assert nearby(api, neighbour).data == []


@pytest.mark.parametrize("who", ["neighbour", "volunteer", "secretary", "other_secretary", "staff"])
def test_nearby_shows_everyone_the_same_public_shape(who, request, api, new_order):
    """Whatever the caller's role, the nearby list carries no name, phone, address or point
    (a desk reads those on the order itself, where its role is checked)."""
    new_order(category="repair", description="水龙头漏水")
    user = request.getfixturevalue(who)
    response = nearby(api, user)
    assert response.status_code == 200 and len(response.data) == 1
    assert leaks(response.data) == [] and "resident" not in str(response.data)


def test_nearby_is_for_signed_in_people_only(api, new_order):
    new_order(category="repair")
    assert nearby(api, None).status_code in {401, 403}


def test_nearby_without_a_point_uses_the_callers_home_and_checks_its_input(api, new_order, neighbour):
    order = new_order(category="repair")
    home = api(neighbour).get("/api/v1/orders/nearby", {"category": "repair"})
    assert [row["id"] for row in home.data] == [order.pk]
    assert api(neighbour).get("/api/v1/orders/nearby", {"category": "nope"}).status_code == 400
    half = api(neighbour).get("/api/v1/orders/nearby", {"category": "repair", "lat": NEAR_LAT})
    assert half.status_code == 400 and "lng" in str(half.data)


def test_this_is_mine_too_counts_one_plus_one_per_neighbour(api, new_order, neighbour, outsider, resident):
    order = new_order(category="repair", description="水龙头漏水")
    first = api(neighbour).post(f"/api/v1/orders/{order.pk}/follow")
    again = api(neighbour).post(f"/api/v1/orders/{order.pk}/follow")
    assert (first.status_code, again.status_code) == (201, 200)
    assert api(outsider).post(f"/api/v1/orders/{order.pk}/follow").status_code == 201
    row = nearby(api, neighbour).data[0]
    assert (row["followers"], row["following"]) == (2, True)
    # The timeline says a neighbour has the same need, without saying who.
    steps = OrderEvent.objects.filter(order=order, action="follow")
    assert [(e.actor_id, e.data["count"]) for e in steps] == [(None, 1), (None, 2)]
    # Their own request cannot be +1'd; a closed or unknown one cannot be followed (the same 404).
    assert api(resident).post(f"/api/v1/orders/{order.pk}/follow").status_code == 400
    services.order_cancel(order_id=order.pk, user=resident)
    closed = api(outsider).post(f"/api/v1/orders/{order.pk}/follow")
    unknown = api(outsider).post(f"/api/v1/orders/{order.pk + 999}/follow")
    assert closed.status_code == unknown.status_code == 404 and closed.data == unknown.data


# --- what a follower may and may not see -------------------------------------------------------


def test_a_follower_sees_the_public_timeline_and_nothing_personal(api, new_order, neighbour, resident, secretary):
    order = new_order(category="repair", description=f"水龙头漏水，打 {SECRET_PHONE}")
    api(neighbour).post(f"/api/v1/orders/{order.pk}/follow")
    services.order_accept(order_id=order.pk, user=secretary)
    response = api(neighbour).get(f"/api/v1/orders/{order.pk}")
    assert response.status_code == 200
    data = response.data
    assert data["roles"] == ["follower"]
    assert (data["address"], data["contact_phone"], data["lat"], data["lng"]) == (None, None, None, None)
    assert data["attachments"] == [] and leaks(data) == []
    assert [step["action"] for step in data["timeline"]] == ["submit", "follow", "accept"]
    assert str(resident) not in str(data)  # the resident is "Resident" on the timeline
    # In their own list, masked as well; and they may take no action on it.
    listed = api(neighbour).get("/api/v1/orders", {"role": "resident"}).data["results"]
    assert [o["id"] for o in listed] == [order.pk] and leaks(listed) == []
    assert api(neighbour).post(f"/api/v1/orders/{order.pk}/cancel").status_code == 403


def test_a_follower_hears_of_the_steps_without_the_residents_data(api, new_order, neighbour, secretary):
    order = new_order(category="repair")
    api(neighbour).post(f"/api/v1/orders/{order.pk}/follow")
    services.order_accept(order_id=order.pk, user=secretary)
    events = Event.objects.filter(recipient=neighbour, order=order)
    assert {e.kind for e in events} == {"order.updated", "order.notice"}
    assert leaks([e.payload for e in events]) == []
    notes = Notification.objects.filter(user=neighbour, order=order)
    assert len(notes) == 1 and notes[0].title in said("A request you follow has been accepted by the branch.")


# --- the desk's likely duplicates and merging --------------------------------------------------


def test_the_desk_sees_likely_duplicates_of_its_own_orders_only(api, new_order, neighbour, secretary, other_secretary):
    first = new_order(category="repair", description="厨房水龙头漏水")
    again = new_order(
        user=neighbour, category="repair", description="水龙头一直在漏水，谢谢", lat=NEAR_LAT, lng=BASE_LNG
    )
    new_order(user=neighbour, category="repair", description="客厅的灯不亮了", lat=NEAR_LAT, lng=BASE_LNG)
    response = api(secretary).get(f"/api/v1/orders/{first.pk}/duplicates")
    assert response.status_code == 200
    assert [(row["id"], row["similarity"] >= 0.15) for row in response.data] == [(again.pk, True)]
    # Another desk does not see the order at all; its resident sees no candidates.
    assert api(other_secretary).get(f"/api/v1/orders/{first.pk}/duplicates").status_code == 404
    assert api(neighbour).get(f"/api/v1/orders/{again.pk}/duplicates").data == []


def test_the_desks_duplicates_are_the_same_category_near_and_close_in_time(api, new_order, neighbour, secretary):
    """Words alone do not make a duplicate: the same words in another category, a kilometre
    away or submitted more than SANDAN_DUPLICATE_DAYS before are left out."""
    first = new_order(category="repair", description="厨房水龙头漏水")
    text = "水龙头一直在漏水，谢谢"
    same = new_order(user=neighbour, category="repair", description=text, lat=NEAR_LAT, lng=BASE_LNG)
    other_kind = new_order(user=neighbour, category="errands", description=text, lat=NEAR_LAT, lng=BASE_LNG)
    far = new_order(user=neighbour, category="repair", description=text, lat=NEAR_LAT, lng=BASE_LNG)
    old = new_order(user=neighbour, category="repair", description=text, lat=NEAR_LAT, lng=BASE_LNG)
    # Moved after routing, so that each stays on this desk and differs in one thing only.
    Order.objects.filter(pk=far.pk).update(lat=BASE_LAT + 0.009)  # about 1 km north
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    found = [row["id"] for row in api(secretary).get(f"/api/v1/orders/{first.pk}/duplicates").data]
    assert found == [same.pk]
    assert {other_kind.branch_id, far.branch_id, old.branch_id} == {first.branch_id}


def test_merge_closes_the_duplicate_and_its_resident_follows_the_survivor(
    api, new_order, neighbour, resident, secretary, volunteer, reach
):
    survivor = new_order(category="repair", description="厨房水龙头漏水")
    duplicate = new_order(
        user=neighbour, category="repair", description="水龙头漏水，我电话 13800001111", lat=NEAR_LAT, lng=BASE_LNG
    )
    response = api(secretary).post(
        f"/api/v1/orders/{duplicate.pk}/merge", {"into": survivor.pk, "reason": "Same tap"}, format="json"
    )
    assert response.status_code == 200 and response.data["status"] == "merged"
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into_id) == ("merged", survivor.pk)
    follow = OrderFollower.objects.get(order=survivor)
    assert (follow.user_id, follow.source, follow.merged_from_id) == (neighbour.pk, "merged", duplicate.pk)
    # Each order's timeline has its step.
    assert OrderEvent.objects.filter(order=duplicate).last().action == "merge"
    assert OrderEvent.objects.filter(order=survivor).last().data == {"from": duplicate.pk, "count": 1}
    # The duplicate's resident is told, and reads the survivor without the other resident's data.
    told = Notification.objects.filter(user=neighbour, order=duplicate).values_list("title", flat=True)
    assert said("Your request is the same as another one nearby: you now follow that one.") & set(told)
    seen = api(neighbour).get(f"/api/v1/orders/{survivor.pk}").data
    assert seen["roles"] == ["follower"] and leaks(seen) == [] and seen["address"] is None
    # …and the survivor's resident never sees the duplicate or its resident's phone.
    assert api(resident).get(f"/api/v1/orders/{duplicate.pk}").status_code == 404
    assert "13800001111" not in str(api(resident).get(f"/api/v1/orders/{survivor.pk}").data)
    # The follower hears of the survivor's later steps.
    reach(survivor, "claimed")
    titles = Notification.objects.filter(user=neighbour, order=survivor).values_list("title", flat=True)
    assert said("A volunteer has taken a request you follow.") & set(titles)
    # (The neighbour's own duplicate carried the same test address: only the survivor's events count.)
    heard = Event.objects.filter(recipient=neighbour, order=survivor).values_list("payload", flat=True)
    assert leaks(list(heard)) == []


def test_merge_refuses_what_is_not_a_duplicate_the_desk_may_merge(
    api, new_order, neighbour, other_resident, secretary, resident, reach
):
    order = new_order(category="repair")
    other = new_order(user=neighbour, category="repair", lat=NEAR_LAT, lng=BASE_LNG)
    south = new_order(user=other_resident, category="repair")  # another desk's
    desk = api(secretary)

    def merge(into):
        return desk.post(f"/api/v1/orders/{order.pk}/merge", {"into": into}, format="json")

    assert merge(order.pk).status_code == 400
    theirs, missing = merge(south.pk), merge(south.pk + 999)
    assert theirs.status_code == missing.status_code == 400
    assert str(theirs.data["into"]) == str(missing.data["into"]).replace(str(south.pk + 999), str(south.pk))
    reach(other, "rejected")
    assert merge(other.pk).status_code == 400  # the survivor must still be open
    assert api(resident).post(f"/api/v1/orders/{order.pk}/merge", {"into": other.pk}, format="json").status_code == 403
    order.refresh_from_db()
    assert order.status == "submitted"


def test_the_followers_of_a_duplicate_move_to_the_survivor(api, new_order, neighbour, outsider, secretary):
    survivor = new_order(category="repair")
    duplicate = new_order(user=neighbour, category="repair", lat=NEAR_LAT, lng=BASE_LNG)
    api(outsider).post(f"/api/v1/orders/{duplicate.pk}/follow")
    services.order_merge(order_id=duplicate.pk, user=secretary, into=survivor.pk)
    assert set(OrderFollower.objects.filter(order=survivor).values_list("user_id", flat=True)) == {
        neighbour.pk,
        outsider.pk,
    }
    assert nearby(api, outsider).data[0]["followers"] == 2


def test_statistics_count_a_merged_need_once(new_order, neighbour, secretary, reach, world):
    survivor = new_order(category="repair")
    duplicate = new_order(user=neighbour, category="repair", lat=NEAR_LAT, lng=BASE_LNG)
    services.order_accept(order_id=duplicate.pk, user=secretary)
    services.order_merge(order_id=duplicate.pk, user=secretary, into=survivor.pk)
    reach(survivor, "closed")
    today = timezone.localdate()
    f = figures(Cohort(date(today.year, today.month, 1), today, branch_ids=(world.north_branch.pk,)))
    assert (f["received"], f["accepted"], f["closed"], f["completion_rate"]) == (1, 1, 1, 1.0)
    assert (f["ratings"], f["satisfaction_rate"]) == (1, 1.0)
    assert Order.objects.filter(status="merged").count() == 1  # it is there, counted in its survivor
