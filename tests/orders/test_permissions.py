"""The permission matrix: each person × each action, on an order in their own scope and on one
in the other scope, with the order in a state where the action itself would be allowed.

Someone with no relation to the order gets 404 (they must not even learn it exists); someone
who sees the order but may not take the action gets 403; the people of the lifecycle table
succeed; an anonymous caller is refused before anything is looked up.
"""

from __future__ import annotations

from typing import Any

import pytest

from orders.states import TRANSITIONS
from tests.orders.conftest import snapshot

pytestmark = pytest.mark.django_db

PEOPLE = [
    "resident",
    "other_resident",
    "secretary",
    "other_secretary",
    "staff",
    "volunteer",
    "volunteer2",
    "outsider_volunteer",
    "outsider",
    "anonymous",
]

# The first state each action may start from: where only the role decides.
SOURCE = {
    "accept": "submitted",
    "reject": "submitted",
    "transfer": "submitted",
    "cancel": "submitted",
    "dispatch": "accepted",
    "claim": "dispatched",
    "decline": "dispatched",
    "recall": "dispatched",
    "release": "claimed",
    "start": "claimed",
    "complete": "in_progress",
    "confirm": "completed",
    "reopen": "completed",
    "merge": "submitted",
}

# Who may take each action on an order of the north cast (resident, secretary, volunteer
# offered then assigned). Staff sit on the community above both branches.
ALLOWED = {
    "accept": {"secretary", "staff"},
    "reject": {"secretary", "staff"},
    "transfer": {"secretary", "staff"},
    "cancel": {"resident", "secretary", "staff"},
    "dispatch": {"secretary", "staff"},
    "claim": {"volunteer"},
    "decline": {"volunteer"},
    "recall": {"secretary", "staff"},
    "release": {"volunteer"},
    "start": {"volunteer"},
    "complete": {"volunteer"},
    "confirm": {"resident"},
    "reopen": {"resident", "secretary", "staff"},
    "merge": {"secretary", "staff"},
}

# In the other scope the south cast plays the same parts.
MIRROR = {
    "resident": "other_resident",
    "other_resident": "resident",
    "secretary": "other_secretary",
    "other_secretary": "secretary",
    "volunteer": "outsider_volunteer",
    "outsider_volunteer": "volunteer",
}


def related(person: str, status: str) -> bool:
    """Whether `person` (a north-cast name) sees an order in `status` at all."""
    if person in {"resident", "secretary", "staff"}:
        return True
    if person == "volunteer":  # offered while dispatched, assigned from claimed on
        return status not in {"submitted", "accepted", "rejected", "cancelled"}
    return False


def expected(person: str, action: str) -> int:
    if person in ALLOWED[action]:
        return 200
    return 403 if related(person, SOURCE[action]) else 404


def body(action: str, world, scope: str) -> dict[str, Any]:
    target = world.south_branch if scope == "own" else world.north_branch
    return {
        "reject": {"reason": "Outside what we do"},
        "transfer": {"branch": target.pk, "reason": "Their grid"},
        "cancel": {"reason": "Not needed"},
        "dispatch": {"mode": "pool", "top": 3},
        "decline": {"reason": "Busy"},
        "recall": {"reason": "Rethink"},
        "release": {"reason": "Unwell"},
        "complete": {"note": "Done", "hours": "2"},
        "confirm": {"rating": 5},
        "reopen": {"reason": "Not fixed"},
    }.get(action, {})


@pytest.fixture
def everyone(
    resident, other_resident, secretary, other_secretary, staff, volunteer, volunteer2, outsider_volunteer, outsider
) -> dict[str, Any]:
    return {
        "resident": resident,
        "other_resident": other_resident,
        "secretary": secretary,
        "other_secretary": other_secretary,
        "staff": staff,
        "volunteer": volunteer,
        "volunteer2": volunteer2,
        "outsider_volunteer": outsider_volunteer,
        "outsider": outsider,
        "anonymous": None,
    }


# Staff, volunteer2, outsider and anonymous relate to both scopes alike: once is enough.
SCOPED = [("own", p) for p in PEOPLE] + [("other", p) for p in PEOPLE if p in MIRROR]


@pytest.mark.parametrize(("scope", "person"), SCOPED)
@pytest.mark.parametrize("action", list(TRANSITIONS))
def test_permission_matrix(action, scope, person, api, world, everyone, cast, other_cast, new_order, reach):
    who = cast if scope == "own" else other_cast
    order = reach(new_order(user=who.resident), SOURCE[action], who)
    before = snapshot(order.pk)
    # In the other scope a person plays the part their mirror plays in the own scope.
    part = MIRROR.get(person, person) if scope == "other" else person

    data = body(action, world, scope)
    if action == "merge":
        data["into"] = new_order(user=who.resident).pk  # the same need, posted again in that scope
    response = api(everyone[person]).post(f"/api/v1/orders/{order.pk}/{action}", data, format="json")

    if person == "anonymous":
        assert response.status_code in {401, 403}
        assert response.data["code"] in {"not_authenticated", "not_permitted"}
    else:
        assert response.status_code == expected(part, action), response.data
    if response.status_code != 200:
        assert snapshot(order.pk) == before
        if response.status_code == 404:
            assert response.data == {"code": "not_found", "detail": response.data["detail"]}


@pytest.mark.parametrize("person", PEOPLE)
def test_order_detail_is_scoped(person, api, everyone, new_order, reach):
    """GET /orders/{id} in every state a person might try: 404 means they do not relate."""
    order = new_order()
    for status in ["submitted", "accepted", "dispatched", "claimed", "in_progress", "completed", "closed"]:
        if status != "submitted":
            reach(order, status)
        response = api(everyone[person]).get(f"/api/v1/orders/{order.pk}")
        if person == "anonymous":
            assert response.status_code in {401, 403}
        elif related(person, status):
            assert response.status_code == 200 and response.data["id"] == order.pk
        else:
            assert response.status_code == 404, (status, response.data)


def test_unknown_order_and_someone_elses_order_look_the_same(api, outsider, new_order):
    order = new_order()
    missing = api(outsider).get(f"/api/v1/orders/{order.pk + 1000}")
    hidden = api(outsider).get(f"/api/v1/orders/{order.pk}")
    assert missing.status_code == hidden.status_code == 404
    assert missing.data == hidden.data


def test_order_list_holds_only_orders_in_scope(
    api, everyone, new_order, reach, cast, other_cast, volunteer2, outsider_volunteer
):
    north_new = new_order()
    north_dispatched = reach(new_order(), "dispatched")
    north_claimed = reach(new_order(), "claimed")
    south_new = new_order(user=other_cast.resident)
    south_dispatched = reach(new_order(user=other_cast.resident), "dispatched", other_cast)
    visible = {
        "resident": {north_new, north_dispatched, north_claimed},
        "secretary": {north_new, north_dispatched, north_claimed},
        "staff": {north_new, north_dispatched, north_claimed, south_new, south_dispatched},
        "other_resident": {south_new, south_dispatched},
        "other_secretary": {south_new, south_dispatched},
        # Offered the north dispatched one, holds the north claimed one (it was offered both).
        "volunteer": {north_dispatched, north_claimed},
        "volunteer2": set(),
        "outsider_volunteer": {south_dispatched},
        "outsider": set(),
    }
    for person, orders in visible.items():
        response = api(everyone[person]).get("/api/v1/orders", {"limit": 200})
        assert response.status_code == 200
        assert {o["id"] for o in response.data["results"]} == {o.pk for o in orders}, person
        for role in ["resident", "desk", "volunteer"]:
            narrowed = api(everyone[person]).get("/api/v1/orders", {"role": role, "limit": 200}).data["results"]
            assert {o["id"] for o in narrowed} <= {o.pk for o in orders}, (person, role)
    assert api(None).get("/api/v1/orders").status_code in {401, 403}


def test_offers_list_is_the_callers_own(api, everyone, new_order, reach, other_cast):
    north = reach(new_order(), "dispatched")
    south = reach(new_order(user=other_cast.resident), "dispatched", other_cast)
    assert [o["order"] for o in api(everyone["volunteer"]).get("/api/v1/offers").data] == [north.pk]
    assert [o["order"] for o in api(everyone["outsider_volunteer"]).get("/api/v1/offers").data] == [south.pk]
    for person in ["resident", "secretary", "staff", "volunteer2", "outsider"]:
        assert api(everyone[person]).get("/api/v1/offers").data == [], person


def test_only_desk_staff_submit_for_someone_else(api, resident, other_resident, volunteer, secretary):
    body = {"category": "errands", "description": "For my neighbour", "resident": other_resident.pk}
    for person in [resident, volunteer]:
        response = api(person).post("/api/v1/orders", body, format="json")
        assert response.status_code == 403 and response.data["code"] == "not_permitted"
    assert not other_resident.orders.exists()
    walk_in = api(secretary).post(
        "/api/v1/orders", {**body, "resident": resident.pk, "description": "Phoned in"}, format="json"
    )
    assert walk_in.status_code == 201
    assert resident.orders.get().submitted_by == secretary


def _upload(client, order_id: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.orders.media import jpeg_bytes

    photo = SimpleUploadedFile("leak.jpg", jpeg_bytes(), content_type="image/jpeg")
    return client.post(f"/api/v1/orders/{order_id}/attachments", {"kind": "photo", "file": photo}, format="multipart")


@pytest.mark.parametrize("person", PEOPLE)
def test_attachments_are_scoped(person, api, everyone, new_order, reach, resident):
    """Upload: the resident (and later the assigned volunteer); download: only those who may
    see the resident's personal data. Everyone else: 404, never the file."""
    order = reach(new_order(), "dispatched")
    upload = _upload(api(resident), order.pk)
    assert upload.status_code == 201, upload.data
    url = upload.data["url"]

    attempt = _upload(api(everyone[person]), order.pk)
    download = api(everyone[person]).get(url)
    if person == "anonymous":
        assert attempt.status_code in {401, 403} and download.status_code in {401, 403}
    elif person == "resident":
        assert attempt.status_code == 201 and download.status_code == 200
    elif person in {"secretary", "staff"}:
        assert attempt.status_code == 403 and download.status_code == 200
    elif person == "volunteer":  # offered only: sees the job, not the resident's photos
        assert attempt.status_code == 403 and download.status_code == 404
    else:
        assert attempt.status_code == 404 and download.status_code == 404
    if download.status_code != 200:
        assert not hasattr(download, "streaming_content")


def test_a_desk_enters_requests_only_for_the_branches_it_serves(api, secretary, staff, other_resident):
    body = {"category": "errands", "description": "Phoned in", "resident": other_resident.pk}
    # The north secretary could not follow a south order: refused before anything is made.
    refused = api(secretary).post("/api/v1/orders", body, format="json")
    assert refused.status_code == 400 and "resident" in refused.data
    assert not other_resident.orders.exists()
    # Community staff serve both branches.
    entered = api(staff).post("/api/v1/orders", body, format="json")
    assert entered.status_code == 201 and entered.data["roles"] == ["staff"]
    assert other_resident.orders.get().submitted_by == staff
