"""The matcher's endpoints: who may see candidates, their shape, and batch dispatch."""

from __future__ import annotations

import json

import pytest

from orders.models import Offer, Order
from tests.factories import UserFactory
from tests.matching.conftest import go_live

pytestmark = pytest.mark.django_db


def url(order) -> str:
    return f"/api/v1/orders/{order.pk}/candidates"


def test_secretary_sees_ranked_candidates_with_reasons_but_no_coordinates(api, secretary, accepted, member):
    near, far = member("near", 0.001), member("far", 0.01)
    go_live(near, 0.0011)  # a fresh phone position: 31.2311, 121.47
    response = api(secretary).get(url(accepted()))
    assert response.status_code == 200, response.data
    rows = response.json()
    assert [r["volunteer"] for r in rows] == [near.pk, far.pk]
    assert rows[0]["score"] >= rows[1]["score"]
    assert rows[0]["name"] == "near" and rows[0]["scope"] == "branch"
    assert set(rows[0]["reasons"]) == {"skill", "distance", "load", "fairness", "reliability", "rating"}
    text = json.dumps(rows)
    assert rows[0]["details"]["location"] == "live"
    for secret in ("31.231", "121.47", "lat", "lng"):
        assert secret not in text


def test_a_candidate_is_named_by_their_display_name_or_else_their_username(api, secretary, accepted, member):
    named, plain = member("wang.fang", 0.001), member("li.lei", 0.002)
    named.user.display_name = "王芳"
    named.user.save(update_fields=["display_name"])
    rows = api(secretary).get(url(accepted())).json()
    assert {r["volunteer"]: r["name"] for r in rows} == {named.pk: "王芳", plain.pk: "li.lei"}


def test_staff_above_the_branch_sees_candidates(api, staff, accepted, member):
    v = member("v", 0.001)
    response = api(staff).get(url(accepted()))
    assert response.status_code == 200 and [r["volunteer"] for r in response.json()] == [v.pk]


def test_limit_is_validated(api, secretary, accepted):
    assert api(secretary).get(url(accepted()), {"limit": 0}).status_code == 400
    assert api(secretary).get(url(accepted()), {"limit": "many"}).status_code == 400


@pytest.mark.parametrize(
    ("who", "status"),
    [("resident", 403), ("volunteer", 404), ("outsider", 404), ("other_secretary", 404), ("anonymous", 401)],
)
def test_nobody_but_the_desk_sees_candidates(request, api, accepted, member, who, status):
    member("v", 0.001)
    order = accepted()
    user = None if who == "anonymous" else request.getfixturevalue(who)
    response = api(user).get(url(order))
    assert response.status_code in ({401, 403} if who == "anonymous" else {status}), response.content
    assert "reasons" not in response.content.decode()


def test_an_offered_volunteer_still_may_not_see_who_else_was_ranked(api, secretary, accepted, member, volunteer):
    from orders import services

    order = accepted()
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    response = api(volunteer).get(url(order))
    assert response.status_code == 403 and "reasons" not in response.content.decode()


def test_batch_propose_then_confirm_dispatches_each_pair_as_batch(api, secretary, accepted, member):
    a, b = member("a", 0.001, capacity=1), member("b", 0.002, capacity=1)
    first, second = accepted(), accepted()
    desk = api(secretary)
    proposed = desk.post("/api/v1/orders/batch/propose", {"orders": [first.pk, second.pk]}, format="json")
    assert proposed.status_code == 200, proposed.data
    pairs = proposed.data["assignments"]
    assert sorted(p["order"] for p in pairs) == [first.pk, second.pk]
    assert sorted(p["volunteer"] for p in pairs) == [a.pk, b.pk]  # capacity 1 each: one order apiece
    assert proposed.data["unassigned"] == []
    assert Order.objects.filter(status="accepted").count() == 2  # proposing changes nothing

    body = {"assignments": [{"order": p["order"], "volunteer": p["volunteer"]} for p in pairs]}
    confirmed = desk.post("/api/v1/orders/batch/confirm", body, format="json")
    assert confirmed.status_code == 200, confirmed.data
    for p in pairs:
        order = Order.objects.get(pk=p["order"])
        assert (order.status, order.dispatch_mode) == ("dispatched", "batch")
        offer = Offer.objects.get(order=order)
        assert (offer.volunteer_id, offer.mode, offer.status) == (p["volunteer"], "batch", "open")


def test_batch_leaves_an_order_unassigned_rather_than_overfill(api, secretary, accepted, member):
    only = member("only", 0.001, capacity=1)
    first, second = accepted(), accepted()
    data = api(secretary).post("/api/v1/orders/batch/propose", {"orders": [first.pk, second.pk]}, format="json").data
    assert [p["volunteer"] for p in data["assignments"]] == [only.pk]
    assert len(data["unassigned"]) == 1


def test_batch_confirm_is_all_or_nothing(api, secretary, accepted, member, submit):
    v = member("v", 0.001, capacity=2)
    good, not_accepted = accepted(), submit()
    body = {"assignments": [{"order": good.pk, "volunteer": v.pk}, {"order": not_accepted.pk, "volunteer": v.pk}]}
    response = api(secretary).post("/api/v1/orders/batch/confirm", body, format="json")
    assert response.status_code == 400 and str(not_accepted.pk) in json.dumps(response.data)
    assert Order.objects.get(pk=good.pk).status == "accepted" and not Offer.objects.exists()


def test_batch_confirm_refuses_more_than_a_volunteers_free_capacity(api, secretary, accepted, member):
    v = member("v", 0.001, capacity=1)
    body = {"assignments": [{"order": accepted().pk, "volunteer": v.pk}, {"order": accepted().pk, "volunteer": v.pk}]}
    response = api(secretary).post("/api/v1/orders/batch/confirm", body, format="json")
    assert response.status_code == 400 and not Offer.objects.exists()


def test_batch_rejects_orders_outside_the_desk_without_saying_whether_they_exist(
    api, other_secretary, secretary, accepted, member
):
    member("v", 0.001)
    order = accepted()
    for ids in ([order.pk], [987654]):
        response = api(other_secretary).post("/api/v1/orders/batch/propose", {"orders": ids}, format="json")
        assert response.status_code == 400
        assert response.data["orders"] == [f"Order {ids[0]} is not one of your desk's orders."]
    bad = api(secretary).post("/api/v1/orders/batch/propose", {"orders": []}, format="json")
    assert bad.status_code == 400 and "orders" in bad.data


def test_batch_endpoints_are_desk_only(api, accepted, member, volunteer):
    member("v", 0.001)
    order = accepted()
    stranger = UserFactory(username="stranger")
    for user in (volunteer, stranger):
        response = api(user).post("/api/v1/orders/batch/propose", {"orders": [order.pk]}, format="json")
        assert response.status_code == 400 and "assignments" not in response.data
